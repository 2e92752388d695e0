using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `spatten` (SpAtten, Wang et al. 2021, "Efficient Sparse Attention Architecture with Cascade Token and Head Pruning"),
/// cascade token pruning: a token's importance is the attention it received, accumulated over steps, heads and every
/// layer up to this one (the cascade); each layer keeps the most important tokens within its budget (give a per-layer
/// budget such as <c>1,0.5,0.25</c> for the paper's shrinking ratios), and a token pruned in a layer stays pruned in all
/// later layers. Not implemented here: head pruning (needs head output magnitudes, which the cache does not see) and
/// progressive quantisation (the cache stores float32).
/// </summary>
public sealed class SpAttenPolicy(ModelSpec spec, KvBudget budget) : KvPolicy(spec, budget)
{
    private readonly Dictionary<long, int> _prunedAt = new(); // position → first layer that pruned it
    private Dictionary<long, double> _importance = new();      // this step's cascade, layers up to the current one

    public override string Name => "spatten";
    public override KvStats Needs => KvStats.Cumulative;

    public override int[]?[] Evictions(LayerView layer)
    {
        if (layer.Layer == 0) _importance = new();
        foreach (var head in layer.Heads)
        {
            var c = Required(head.Cumulative, KvStats.Cumulative);
            for (int i = 0; i < head.Count; i++) _importance[head.Positions[i]] = _importance.GetValueOrDefault(head.Positions[i]) + c[i];
        }
        var result = new int[]?[layer.Heads.Length];
        for (int h = 0; h < result.Length; h++)
        {
            var head = layer.Heads[h];
            long cap = Capacity(layer.Layer, h, layer.Length);
            // Pruned earlier in the cascade: out regardless of room.
            var p = new double[head.Count];
            int forced = 0;
            for (int i = 0; i < p.Length; i++)
            {
                long pos = head.Positions[i];
                bool gone = _prunedAt.TryGetValue(pos, out var at) && at < layer.Layer;
                p[i] = gone ? double.NegativeInfinity : _importance[pos];
                if (gone) forced++;
            }
            int m = (int)Math.Max(forced, head.Count - cap);
            if (m == 0) continue;
            var ev = Ranking.Lowest(p, head.Count, m);
            foreach (var i in ev) _prunedAt.TryAdd(head.Positions[i], layer.Layer);
            result[h] = ev;
        }
        return result;
    }
}
