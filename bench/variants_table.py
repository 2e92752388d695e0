"""Issue 20's table from bench/variants.sh's output folder: one row per trained config, then each claim's check."""
import json, os, sys

out = sys.argv[1]
rows = {}
for name in ["sqa-full", "sqa-half", "softmax", "sigmoid", "moh", "linear", "mala", "softmax-sinks", "sigmoid-sinks"]:
    card_path = os.path.join(out, name, "model-card.json")
    if not os.path.exists(card_path):
        continue
    card = json.load(open(card_path))
    log = [json.loads(l) for l in open(os.path.join(out, name, "train-log.jsonl"))]
    tokens = sum(s["tokens"] for s in log)
    # Step time excluding the first step of each resumed session (warm-up); wall and process CPU seconds.
    wall = log[-1]["seconds"]
    cpu = log[-1]["cpu_seconds"]
    atlas_path = os.path.join(out, name, "atlas", "atlas.json")
    sink = None
    if os.path.exists(atlas_path):
        values = json.load(open(atlas_path))["scores"]["sink"]
        upper = [v for layer in values[1:] for v in layer]
        sink = {"max": max(v for layer in values for v in layer), "min_upper": min(upper),
                "upper_at_0.3": sum(v >= 0.3 for v in upper), "upper": len(upper)}
    v = card.get("variant") or {}
    shares = v.get("head_shares")
    rows[name] = dict(kind=v.get("kind", "softmax"), loss=card["final_loss"], held_out=card["held_out_loss"],
                      tps=tokens / wall, tpcpu=tokens / cpu, flops=v.get("attention_flops"), flops_len=v.get("flops_length"),
                      sink=sink, active=(sum(sum(l) for l in shares) / sum(len(l) for l in shares)) if shares else None,
                      steps=card["steps"])

print("| config | attention | steps | final training loss | held-out loss | training tokens/s (wall) | tokens per CPU-second | attention FLOPs per sequence | sink score: heads of layers 1+ at 0.3 or more | max sink score | task metric |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for name, r in rows.items():
    s = r["sink"]
    sink = f"{s['upper_at_0.3']} of {s['upper']}" if s else "-"
    smax = f"{s['max']:.3f}" if s else "-"
    task = f"{100 * r['active']:.0f} % of heads active per token" if r["active"] is not None else "-"
    flops = f"{r['flops']:.3g} ({r['flops_len']} tokens)" if r["flops"] else "-"
    print(f"| {name} | {r['kind']} | {r['steps']} | {r['loss']:.4f} | {r['held_out']:.4f} | {r['tps']:,.0f} | {r['tpcpu']:,.0f} | {flops} | {sink} | {smax} | {task} |")

def rel(a, b):
    return (rows[a]["held_out"] - rows[b]["held_out"]) / rows[b]["held_out"]

print()
if "sqa-full" in rows and "sqa-half" in rows:
    f, h = rows["sqa-full"], rows["sqa-half"]
    print(f"- SQA (acceptance 1): half the query heads trains {h['tps'] / f['tps']:.2f}x the full-head model's tokens/s (wall; "
          f"{h['tpcpu'] / f['tpcpu']:.2f}x per CPU-second; target 1.3x); held-out loss {100 * rel('sqa-half', 'sqa-full'):+.1f} % (target within 5 %); "
          f"final training loss {100 * (h['loss'] - f['loss']) / f['loss']:+.1f} %.")
if "moh" in rows and "softmax" in rows:
    print(f"- MoH (acceptance 2): {100 * rows['moh']['active']:.0f} % of heads active per token; held-out loss {100 * rel('moh', 'softmax'):+.1f} % "
          f"against the dense model at equal steps (target within 3 %).")
for soft, sig in [("softmax", "sigmoid"), ("softmax-sinks", "sigmoid-sinks")]:  # the shared length, and the sinks pair's
    if sig not in rows or soft not in rows:
        continue
    s, m = rows[soft]["sink"], rows[sig]["sink"]
    if s and m:
        print(f"- Sinks (acceptance 3), {soft} / {sig} at {rows[soft]['steps']:,} steps: softmax {s['upper_at_0.3']} of {s['upper']} heads of layers 1+ at sink score 0.3 or more (target: most); "
              f"sigmoid max sink score {m['max']:.3f} over all heads (target 0.05 or less); sigmoid held-out loss {100 * rel(sig, soft):+.1f} % (target within 3 %).")
if all(k in rows for k in ["softmax", "linear", "mala"]):
    sm = rows["softmax"]["held_out"]
    print(f"- MALA (acceptance 5): held-out loss softmax {sm:.4f}, MALA {rows['mala']['held_out']:.4f} (gap {rows['mala']['held_out'] - sm:+.4f}), "
          f"linear {rows['linear']['held_out']:.4f} (gap {rows['linear']['held_out'] - sm:+.4f}); target: MALA's gap smaller.")

for name in ["icl-regression", "icl-regression-noisy"]:
    path = os.path.join(out, name, "results.json")
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    print()
    print(f"In-context regression `{name}` (d = {r['input_dim']}, noise sd {r['noise']}, {r['heads']} heads of {r['head_dim']} against 1 head of {r['heads'] * r['head_dim']}, "
          f"{r['parameters']} parameters each, {r['steps']} steps; held-out MSE):")
    print()
    print("| examples | multi-head | single-head | least squares | one GD step | ridge (Bayes) | multi-head / least squares |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for s in r["scores"]:
        print(f"| {s['examples']} | {s['multi_head']:.4f} | {s['single_head']:.4f} | {s['least_squares']:.4f} | {s['gradient_step']:.4f} | {s['ridge']:.4f} | {s['multi_head'] / s['least_squares']:.3f} |")
    at = next(s for s in r["scores"] if s["examples"] == r["examples"])
    print()
    print(f"- In-context regression (acceptance 4): at {r['examples']} examples multi-head MSE is {at['multi_head'] / at['least_squares']:.2f}x least squares "
          f"(target 1.20x or less); single-head {at['single_head']:.4f} against multi-head {at['multi_head']:.4f}; one GD step {at['gradient_step']:.4f}.")
    print("  Per-head readout: " + "; ".join(f"head {h['head']}: omega {h['omega']:+.3f} ({100 * h['diagonal_share']:.0f} % of the KQ x block on its diagonal), "
          f"mu {h['mu']:+.3f} ({100 * h['last_entry_share']:.0f} % of the OV row on y)" for h in r["readout"]) + f"; sum of mu {r['mu_sum']:+.3f} of |mu| {r['mu_abs_sum']:.3f}.")
