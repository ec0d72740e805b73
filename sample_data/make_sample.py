"""Generate the seqrec studio sample data set (a fictional online store).

Regenerate with:

    python sample_data/make_sample.py

The script is seeded and deterministic (numpy only): running it again writes
byte-identical ``interactions.csv`` and ``items.csv`` next to this file,
whatever the current working directory is.

What is in it
-------------
* ``items.csv`` (``item_id,title,category``): 300 products in 10 departments
  (Running & Fitness, Coffee & Tea, Photography, ...). Item IDs such as
  ``P0042`` are opaque: they say nothing about department or order.
* ``interactions.csv`` (``user_id,item_id,timestamp``): about 3,000 shoppers
  (``U00017``), each with 8-30 interactions (median 15), about 48,000 rows
  in all. Timestamps are Unix epoch seconds between February and June
  2025, grouped into browsing sessions: minutes apart within a session, hours
  to days between sessions.

The planted pattern (what a sequence model can learn)
-----------------------------------------------------
Most shoppers are working on one or two "projects", each tied to a department,
for example setting up a home coffee corner or getting into trail running.
Every department has a typical buying order of 20 products, a "journey" (coffee:
pour-over dripper, then paper filters, then a gooseneck kettle, then a burr
grinder, ...). A shopper starts somewhere near the beginning of the journey and
works through it one product at a time, now and then skipping a step.

Project purchases are interleaved with other activity. A shopper with two
projects alternates between them, and someone with a single project browses
unrelated products from other departments between project steps. So the
project steps come only every 2 to 4 interactions, and the product that comes
next depends on the shopper's last step in that project, two to four
interactions back, not on the product they looked at just before.

Why this matters for the models
-------------------------------
* Most popular (recommend the best sellers) misses it: every project item is
  only a moderate seller, because shoppers are spread over 10 departments and
  many journey positions.
* "Bought after the last item" (item-to-item transitions) misses it too: the
  product just before a project step is a step from the shopper's other
  project or a random browse, which says little about what comes next.
* A recurrent model (GRU or LSTM) reads the whole sequence, can remember each
  project's last step, and ranks the next journey product near the top.

About 70% of the sequences end on a project step (the held-out test item),
and about 70% have one in second-to-last place (the validation item), so the
effect shows clearly in the evaluation. A little randomness (skipped steps,
random browsing, a few shoppers with no project at all) keeps it from being
trivial. Best sellers still exist: browsing follows a long-tailed popularity
curve, and some departments are busier than others.
"""

from __future__ import annotations

import os

import numpy as np

SEED = 20250214
N_USERS = 3000
JOURNEY_LEN = 20  # first 20 products of every department form its journey

# Department -> 30 product titles. The first JOURNEY_LEN titles are listed in
# the department's typical buying order; the rest are extra products that only
# show up as browsing.
CATALOG: dict[str, list[str]] = {
    "Running & Fitness": [
        "Trail Running Shoes", "Moisture-Wicking Running Socks",
        "Lightweight Running Shorts", "Breathable Running Tee",
        "GPS Running Watch", "Heart Rate Chest Strap", "Running Belt Pouch",
        "Insulated Water Bottle", "Hydration Vest", "Reflective Running Vest",
        "Clip-On Safety Light", "Compression Calf Sleeves", "Foam Roller",
        "Massage Ball Set", "Resistance Band Set", "Electrolyte Drink Mix",
        "Energy Gel Variety Pack", "Merino Running Beanie",
        "Touchscreen Running Gloves", "Waterproof Running Jacket",
        "Yoga Mat", "Adjustable Dumbbells", "Speed Jump Rope",
        "Cast Iron Kettlebell", "Doorway Pull-Up Bar", "Gym Duffel Bag",
        "Ab Roller Wheel", "Exercise Ball", "Sweatband Set",
        "Protein Shaker Bottle",
    ],
    "Coffee & Tea": [
        "Pour-Over Coffee Dripper", "Paper Coffee Filters", "Gooseneck Kettle",
        "Burr Coffee Grinder", "Digital Coffee Scale",
        "Single-Origin Coffee Beans", "Airtight Coffee Canister",
        "Ceramic Mug Set", "Handheld Milk Frother", "Home Espresso Machine",
        "Espresso Tamper", "Espresso Knock Box", "Milk Frothing Pitcher",
        "Espresso Cup Set", "Descaling Solution", "Cold Brew Maker",
        "French Press", "Stovetop Moka Pot", "Barista Cleaning Brushes",
        "Latte Art Pen",
        "Loose Leaf Green Tea", "Glass Teapot", "Tea Infuser Ball",
        "Matcha Whisk Set", "Chai Spice Blend", "Earl Grey Tea Tin",
        "Travel Coffee Tumbler", "Wooden Honey Dipper", "Herbal Tea Sampler",
        "Electric Tea Kettle",
    ],
    "Kitchen & Cooking": [
        "Chef's Knife", "Bamboo Cutting Board", "Whetstone Knife Sharpener",
        "Cast Iron Skillet", "Silicone Spatula Set", "Stainless Mixing Bowls",
        "Measuring Cup Set", "Digital Kitchen Scale", "Nonstick Frying Pan",
        "Enameled Dutch Oven", "Instant-Read Thermometer", "Sheet Pan Set",
        "Silicone Baking Mat", "Stand Mixer", "Bread Proofing Basket",
        "Pizza Stone", "Pasta Maker", "Spice Rack Organizer",
        "Glass Food Storage Set", "Quilted Oven Mitts",
        "Garlic Press", "Salad Spinner", "Swivel Vegetable Peeler",
        "Citrus Juicer", "French Rolling Pin", "Box Cheese Grater",
        "Kitchen Shears", "Stainless Colander", "Canvas Kitchen Apron",
        "Dish Drying Rack",
    ],
    "Camping & Hiking": [
        "40L Hiking Backpack", "Waterproof Hiking Boots", "Trekking Poles",
        "Two-Person Tent", "Three-Season Sleeping Bag",
        "Inflatable Sleeping Pad", "Camping Pillow", "Rechargeable Headlamp",
        "Backpacking Stove", "Fuel Canister", "Titanium Cookset",
        "Squeeze Water Filter", "Collapsible Water Jug", "Folding Camp Chair",
        "LED Camp Lantern", "Insect Repellent", "Trail First Aid Kit",
        "Emergency Bivy", "Dry Bag Set", "Baseplate Compass",
        "Pocket Multi-Tool", "Paracord Bundle", "Camping Hammock",
        "Bear Canister", "Fire Starter Kit", "Trail Mix Variety Pack",
        "Wide-Brim Sun Hat", "Hiking Gaiters", "Portable Solar Charger",
        "Quick-Dry Camp Towel",
    ],
    "Home Office": [
        "Standing Desk", "Ergonomic Office Chair", "Monitor Arm",
        "27-inch Monitor", "USB-C Docking Station", "Wireless Keyboard",
        "Wireless Mouse", "Felt Desk Mat", "Aluminum Laptop Stand",
        "HD Webcam", "USB Microphone", "Noise-Cancelling Headset",
        "LED Desk Lamp", "Cable Management Tray", "Under-Desk Footrest",
        "Document Shelf", "Magnetic Whiteboard", "Desk Organizer",
        "Surge Protector Strip", "Under-Desk Drawer",
        "Sticky Notes Pack", "Gel Pen Set", "Dotted Notebook Set",
        "Paper Shredder", "Label Maker", "Heavy-Duty Stapler",
        "Low-Light Desk Plant", "Silent Wall Clock", "Filing Cabinet",
        "Printer Paper Ream",
    ],
    "Gardening": [
        "Raised Garden Bed", "Organic Potting Soil", "Compost Bin",
        "Garden Gloves", "Hand Trowel", "Pruning Shears", "Seed Starter Tray",
        "Heirloom Tomato Seeds", "Herb Seed Collection", "Bamboo Plant Labels",
        "Watering Can", "Expandable Garden Hose", "Hose Spray Nozzle",
        "Drip Irrigation Kit", "Tomato Cages", "Organic Fertilizer",
        "Cedar Bark Mulch", "Garden Kneeler", "Bird Netting",
        "Harvest Basket",
        "Terracotta Pot Set", "Macrame Hanging Planter", "Wooden Bird Feeder",
        "Solar Garden Lights", "Steel Wheelbarrow", "Leaf Rake",
        "Garden Tool Apron", "Rain Gauge", "Ceramic Succulent Pot",
        "Oscillating Lawn Sprinkler",
    ],
    "Photography": [
        "Mirrorless Camera Body", "50mm Prime Lens", "SD Memory Card",
        "Spare Camera Battery", "Padded Camera Strap", "UV Lens Filter",
        "Lens Cleaning Kit", "Camera Shoulder Bag", "Travel Tripod",
        "Remote Shutter Release", "24-105mm Zoom Lens", "Polarizing Filter",
        "ND Filter Set", "External Flash", "Light Stand", "Softbox Kit",
        "Collapsible Reflector", "Photo Editing Monitor", "USB-C Card Reader",
        "Portable SSD",
        "Camera Rain Cover", "Gimbal Stabilizer", "Lens Hood",
        "Instant Film Camera", "Instant Film Pack", "Compact Photo Printer",
        "Linen Photo Album", "Action Camera", "Camera Backpack",
        "Camera Wrist Strap",
    ],
    "Baby & Toddler": [
        "Crib Mattress", "Video Baby Monitor", "Muslin Swaddle Blankets",
        "Newborn Diapers", "Sensitive Baby Wipes", "Contoured Changing Pad",
        "Diaper Backpack", "Baby Bottle Set", "Bottle Sterilizer",
        "Soft Baby Carrier", "Lightweight Stroller", "Infant Car Seat",
        "Convertible High Chair", "Silicone Bib Set", "Baby Spoon Set",
        "Teething Toys", "Activity Play Mat", "Baby Safety Gate",
        "Outlet Covers", "Toddler Sippy Cup",
        "Baby Bath Tub", "Hooded Baby Towel", "Nursery Night Light",
        "Board Book Set", "Stacking Cups", "Fitted Crib Sheets",
        "Baby Nail Clippers", "Stroller Sun Shade", "Nursery Rocking Chair",
        "Pacifier Two-Pack",
    ],
    "Pet Supplies": [
        "Puppy Crate", "Orthopedic Dog Bed", "Puppy Food",
        "Stainless Pet Bowls", "Adjustable Dog Collar", "Nylon Dog Leash",
        "Puppy Training Pads", "Training Treats", "Clicker Trainer",
        "Chew Toy Set", "No-Pull Dog Harness", "Poop Bag Dispenser",
        "Oatmeal Dog Shampoo", "Slicker Grooming Brush", "Dog Nail Clippers",
        "Dog Toothbrush Kit", "Adult Dog Food", "Rope Tug Toy",
        "Car Seat Cover for Dogs", "Dog Raincoat",
        "Covered Litter Box", "Cat Scratching Post", "Indoor Cat Food",
        "Catnip Toys", "Aquarium Starter Kit", "Tropical Fish Food",
        "Bird Cage", "Hamster Wheel", "Soft Pet Carrier",
        "Automatic Pet Feeder",
    ],
    "Music & Audio": [
        "Acoustic Guitar", "Clip-On Guitar Tuner", "Guitar Picks Variety Pack",
        "Leather Guitar Strap", "Guitar Capo", "Spare Guitar Strings",
        "Guitar Stand", "Padded Gig Bag", "Beginner Chord Book",
        "Electric Guitar", "Practice Amplifier", "Instrument Cable",
        "Overdrive Effects Pedal", "Pedal Power Supply", "Audio Interface",
        "Studio Headphones", "Condenser Microphone", "Boom Mic Stand",
        "Pop Filter", "Studio Monitor Speakers",
        "Bluetooth Speaker", "Wireless Earbuds", "Belt-Drive Turntable",
        "Vinyl Cleaning Kit", "Concert Ukulele", "61-Key Keyboard",
        "Digital Metronome", "Folding Music Stand", "Blues Harmonica",
        "Cajon Drum",
    ],
}

# Generator knobs.
P_TWO_PROJECTS = 0.80   # shoppers working on two projects at once
P_NO_PROJECT = 0.05     # shoppers who only browse
P_SKIP_STEP = 0.12      # chance a project skips one journey step
P_BROWSE_BETWEEN = 0.25  # two projects: chance of one browse between steps
BROWSE_RUN_P = np.array([0.40, 0.35, 0.25])  # one project: 1, 2 or 3 browses
BROWSE_ZIPF = 0.9       # long tail of browsing popularity
START_EPOCH = 1738368000  # 2025-02-01 00:00:00 UTC
START_WINDOW_DAYS = 90


def _build_items(rng: np.random.Generator):
    """Return (item_ids, titles, categories, journeys as index arrays)."""
    titles, cats, journeys = [], [], []
    for cat, products in CATALOG.items():
        assert len(products) == 30, (cat, len(products))
        base = len(titles)
        titles.extend(products)
        cats.extend([cat] * len(products))
        journeys.append(np.arange(base, base + JOURNEY_LEN))
    assert len(set(titles)) == len(titles), "titles must be unique"
    n = len(titles)
    # Opaque IDs: shuffle which internal item gets which P-number.
    numbers = rng.permutation(n) + 1
    item_ids = [f"P{k:04d}" for k in numbers]
    return item_ids, titles, cats, journeys


def _timestamps(rng: np.random.Generator, n: int) -> list[int]:
    """Increasing epoch seconds for n events grouped into sessions."""
    t = START_EPOCH + int(rng.integers(0, START_WINDOW_DAYS * 86400))
    out = []
    left_in_session = int(rng.integers(2, 7))
    for i in range(n):
        if i > 0:
            if left_in_session == 0:
                # New session: hours to days later.
                gap = 3600 + rng.exponential(2.5 * 86400)
                left_in_session = int(rng.integers(2, 7))
            else:
                # Same session: seconds to minutes later.
                gap = 20 + rng.lognormal(np.log(90), 0.8)
            t += int(gap)
        out.append(t)
        left_in_session -= 1
    return out


def generate(seed: int = SEED):
    rng = np.random.default_rng(seed)
    item_ids, titles, cats, journeys = _build_items(rng)
    n_items = len(titles)
    n_cats = len(journeys)
    cat_of = np.repeat(np.arange(n_cats), 30)

    # Department popularity for projects: moderately skewed.
    cat_w = 1.0 / np.sqrt(np.arange(n_cats) + 1.5)
    cat_w = cat_w[rng.permutation(n_cats)]
    cat_w /= cat_w.sum()

    # Browsing popularity: Zipf-like over a random ranking of all items.
    browse_w = 1.0 / (np.arange(n_items) + 1.0) ** BROWSE_ZIPF
    browse_w = browse_w[rng.permutation(n_items)]

    rows = []
    for u in range(N_USERS):
        length = int(np.clip(round(rng.lognormal(np.log(15.0), 0.35)), 8, 30))
        r = rng.random()
        n_proj = 0 if r < P_NO_PROJECT else (2 if r < P_NO_PROJECT + P_TWO_PROJECTS else 1)
        proj_cats = rng.choice(n_cats, size=n_proj, replace=False, p=cat_w) if n_proj else []
        # Start near the beginning of the journey (geometric offset).
        pos = [min(int(rng.geometric(0.3)) - 1, 10) for _ in range(n_proj)]

        # Browsing avoids the shopper's project departments.
        w = browse_w.copy()
        for c in proj_cats:
            w[cat_of == c] = 0.0
        w /= w.sum()

        def browse():
            return int(rng.choice(n_items, p=w))

        def project_step(k):
            j = journeys[proj_cats[k]]
            item = int(j[pos[k] % JOURNEY_LEN])
            pos[k] += 2 if rng.random() < P_SKIP_STEP else 1
            return item

        seq: list[int] = []
        if n_proj and rng.random() < 0.3:
            seq.append(browse())  # a look around before getting started
        turn = int(rng.integers(0, n_proj)) if n_proj else 0
        while len(seq) < length:
            if n_proj == 0:
                seq.append(browse())
            elif n_proj == 2:
                seq.append(project_step(turn))
                turn = 1 - turn
                if rng.random() < P_BROWSE_BETWEEN:
                    seq.append(browse())
            else:
                seq.append(project_step(0))
                for _ in range(int(rng.choice(3, p=BROWSE_RUN_P)) + 1):
                    seq.append(browse())
        seq = seq[:length]

        ts = _timestamps(rng, length)
        uid = f"U{u + 1:05d}"
        rows.extend((uid, item_ids[i], t) for i, t in zip(seq, ts))

    return item_ids, titles, cats, rows


def _csv_field(s: str) -> str:
    if any(ch in s for ch in ',"\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    item_ids, titles, cats, rows = generate()

    order = sorted(range(len(item_ids)), key=lambda i: item_ids[i])
    with open(os.path.join(here, "items.csv"), "w", encoding="utf-8", newline="") as f:
        f.write("item_id,title,category\n")
        for i in order:
            f.write(f"{item_ids[i]},{_csv_field(titles[i])},{_csv_field(cats[i])}\n")

    with open(os.path.join(here, "interactions.csv"), "w", encoding="utf-8", newline="") as f:
        f.write("user_id,item_id,timestamp\n")
        for uid, iid, t in rows:
            f.write(f"{uid},{iid},{t}\n")

    n_users = len({r[0] for r in rows})
    print(f"wrote {len(item_ids)} items, {n_users} users, {len(rows)} interactions to {here}")


if __name__ == "__main__":
    main()
