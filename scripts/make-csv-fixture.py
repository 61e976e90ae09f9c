#!/usr/bin/env python3
"""Writes tests/fixtures/shoppers_sample.csv: a small synthetic table shaped like
the UCI "Online Shoppers Purchasing Intention" data (which cannot be downloaded
here), for `journey train --csv` tests. The label depends on PageValues,
ExitRates, ProductRelated and the month through a known logistic function, plus
noise, so a good learner reaches a clearly better ROC AUC than chance.
Deterministic: run it again to get the same bytes."""
import csv, math, random

rng = random.Random(20261125)
months = ["Feb", "Mar", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
rows = []
for i in range(800):
    admin = rng.randint(0, 10)
    admin_d = round(admin * rng.uniform(5, 60), 2)
    info = rng.choice([0, 0, 0, 1, 2, 3])
    prod = int(rng.lognormvariate(3, 1))
    prod_d = round(prod * rng.uniform(10, 90), 2)
    bounce = round(max(0, rng.gauss(0.02, 0.03)), 4)
    exit_r = round(min(0.2, bounce + abs(rng.gauss(0.03, 0.02))), 4)
    page_values = round(max(0, rng.gauss(0, 30)) if rng.random() < 0.3 else 0.0, 2)
    month = rng.choice(months)
    visitor = rng.choice(["Returning_Visitor"] * 6 + ["New_Visitor"] * 3 + ["Other"])
    weekend = rng.random() < 0.25
    z = -2.4 + 0.09 * page_values - 25 * exit_r + 0.004 * prod + (0.8 if month == "Nov" else 0) \
        + (0.3 if visitor == "New_Visitor" else 0) + rng.gauss(0, 0.6)
    revenue = rng.random() < 1 / (1 + math.exp(-z))
    rows.append([admin, admin_d, info, prod, prod_d, bounce, exit_r, page_values,
                 month, visitor, "TRUE" if weekend else "FALSE", "TRUE" if revenue else "FALSE"])
with open("tests/fixtures/shoppers_sample.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["Administrative", "Administrative_Duration", "Informational", "ProductRelated",
                "ProductRelated_Duration", "BounceRates", "ExitRates", "PageValues", "Month",
                "VisitorType", "Weekend", "Revenue"])
    w.writerows(rows)
