using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `adakv` (Ada-KV, Feng et al. 2024, "Adaptive Budget Allocation for Efficient LLM Inference"): a layer's budget
/// (budget x KV heads) goes to the top SnapKV scores across all its heads, so concentrated heads give room to dispersed
/// ones; each head keeps at least <see cref="Floor"/> of its even share (the paper's safeguard, alpha 0.2).
/// </summary>
public sealed class AdaKvPolicy(ModelSpec spec, KvBudget budget, int window = 32, int kernel = 7, double floor = 0.2) : SnapKvPolicy(spec, budget, window, kernel)
{
    public double Floor { get; } = floor is >= 0 and <= 1 ? floor : throw new HeadWiseException($"adakv: floor must be in [0, 1], got {floor}");
    public override string Name => "adakv";

    public override int[]?[] Evictions(LayerView layer)
    {
        int n = layer.Heads.Length;
        long total = 0, held = 0;
        for (int h = 0; h < n; h++) { total += Capacity(layer.Layer, h, layer.Length); held += layer.Heads[h].Count; }
        var result = new int[]?[n];
        if (held <= total) return result;
        var keep = new bool[n][];
        var candidates = new List<(double Score, int Head, int Slot)>();
        long used = 0;
        for (int h = 0; h < n; h++)
        {
            var head = layer.Heads[h];
            long cap = Capacity(layer.Layer, h, layer.Length);
            var scores = Scores(head, layer.Length, cap);
            keep[h] = new bool[head.Count];
            // The floor: this head's own best slots (the protected window first).
            int floorCount = (int)Math.Min(head.Count, Math.Ceiling(Floor * cap));
            var order = Enumerable.Range(0, head.Count).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
            for (int j = 0; j < order.Length; j++)
                if (j < floorCount) keep[h][order[j]] = true;
                else candidates.Add((scores[order[j]], h, order[j]));
            used += floorCount;
        }
        foreach (var c in candidates.OrderByDescending(c => c.Score).ThenBy(c => c.Head).ThenBy(c => c.Slot).Take((int)Math.Max(0, total - used)))
            keep[c.Head][c.Slot] = true;
        for (int h = 0; h < n; h++)
        {
            var ev = Enumerable.Range(0, keep[h].Length).Where(i => !keep[h][i]).ToArray();
            if (ev.Length > 0) result[h] = ev;
        }
        return result;
    }
}
