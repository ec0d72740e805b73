"""Model stage: the recurrent network (modules only), its losses and the count-based baselines."""
