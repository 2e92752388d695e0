using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `adakv` (Ada-KV, Feng et al. 2024, "Adaptive Budget Allocation for Efficient LLM Inference"), over any scorer
/// (SnapKV's by default, as in the paper): a layer's budget beyond the scorer's protected window (each head's base =
/// budget - window, summed over the layer's KV heads) goes to the top scores across all its heads, so concentrated
/// heads give room to dispersed ones; each head then keeps round(chosen x (1 - floor) + floor x base) of its best
/// positions (the paper's safeguard, floor 0.2), plus what the scorer protects.
/// </summary>
public sealed class AdaKvPolicy(KvPolicy scorer, double floor) : AllocationPolicy(scorer)
{
    public static PolicyDeclaration Declaration { get; } = new("adakv", "Ada-KV (Feng et al. 2024)",
        "a layer's budget goes to the top scores across its heads, with a floor per head, over a scorer, SnapKV by default",
        [PolicyParameter.Number("floor", 0.2, "share of each head's even budget it keeps whatever the others score; the paper's safeguard 0.2", 0, 1), ScorerParameter],
        a => new AdaKvPolicy(a.Scorer(), a.Number("floor")));

    public double Floor { get; } = floor;
    public override string Name => "adakv";

    public override int[]?[] Evictions(LayerView layer)
    {
        int n = layer.Heads.Length;
        var result = new int[]?[n];
        long held = layer.Heads.Sum(h => (long)h.Count), total = 0;
        var caps = new long[n];
        for (int h = 0; h < n; h++) total += caps[h] = Capacity(layer.Layer, h, layer.BudgetLength);
        if (held <= total) return result;

        // Per head: the scorer's scores, the protected slots (+inf, kept) and the base budget left for the others.
        var scores = new double[n][];
        var bases = new long[n];
        var protectedCounts = new int[n];
        var candidates = new List<(double Score, int Head, int Slot)>();
        long pool = 0;
        for (int h = 0; h < n; h++)
        {
            var head = layer.Heads[h];
            scores[h] = Score(head, layer.Length, caps[h]);
            protectedCounts[h] = scores[h].Count(double.IsPositiveInfinity);
            bases[h] = Math.Max(0, caps[h] - protectedCounts[h]);
            pool += bases[h];
            for (int i = 0; i < head.Count; i++)
                if (!double.IsPositiveInfinity(scores[h][i])) candidates.Add((scores[h][i], h, i));
        }
        // Ada-KV's allocation: how many of the layer's top `pool` scores fall in each head.
        var chosen = new long[n];
        foreach (var c in candidates.OrderByDescending(c => c.Score).ThenBy(c => c.Head).ThenBy(c => c.Slot).Take((int)pool)) chosen[c.Head]++;
        for (int h = 0; h < n; h++)
        {
            var head = layer.Heads[h];
            long keep = Math.Min(head.Count, (long)Math.Round(chosen[h] * (1 - Floor) + Math.Floor(Floor * bases[h])) + protectedCounts[h]);
            if (keep >= head.Count) continue;
            result[h] = Ranking.Lowest(scores[h], head.Count, (int)(head.Count - keep));
        }
        return result;
    }
}
