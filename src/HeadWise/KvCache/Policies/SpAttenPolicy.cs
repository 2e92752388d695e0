using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `spatten` (SpAtten, Wang et al. 2021, "Efficient Sparse Attention Architecture with Cascade Token and Head Pruning").
/// Cascade token pruning: a token's importance is the attention it received, accumulated over steps, heads and every
/// layer up to this one; each layer keeps the most important tokens within its budget (give a per-layer budget such as
/// <c>1,0.5,0.25</c> for the paper's shrinking ratios), and a token pruned in a layer stays pruned in all later layers.
/// Cascade head pruning (<c>heads=F</c>, default 0): a KV head's importance is the magnitude of its attention output,
/// accumulated over steps; each layer prunes the fraction F of its least important KV heads (at least one head stays),
/// which then output zero and keep nothing, for the rest of the sequence. SpAtten prunes while generating too, so
/// decoding evicts at every step.
/// Not implemented: progressive quantisation (the cache stores float32; it saves bandwidth, not capacity).
/// </summary>
public sealed class SpAttenPolicy : KvPolicy
{
    public static PolicyDeclaration Declaration { get; } = new("spatten", "SpAtten (Wang et al. 2021)",
        "cascade token pruning by attention accumulated over steps, heads and layers (pruned stays pruned); cascade head pruning by output magnitude",
        [PolicyParameter.Number("heads", 0, "fraction of each layer's KV heads pruned (cascade head pruning); 0 prunes none", 0, 1, maxExclusive: true)],
        a => new SpAttenPolicy(a.Spec, a.Budget, a.Number("heads")));

    private readonly Dictionary<long, int> _prunedAt = new(); // position → first layer that pruned it
    private Dictionary<long, double> _importance = new();      // this step's cascade, layers up to the current one
    private readonly double[][] _headImportance;
    private readonly bool[][] _headPruned;
    private readonly int _pruneHeads;

    public SpAttenPolicy(ModelSpec spec, KvBudget budget, double headFraction) : base(spec, budget)
    {
        _pruneHeads = Math.Min(spec.KvHeads - 1, (int)Math.Floor(headFraction * spec.KvHeads));
        _headImportance = Enumerable.Range(0, spec.Layers).Select(_ => new double[spec.KvHeads]).ToArray();
        _headPruned = Enumerable.Range(0, spec.Layers).Select(_ => new bool[spec.KvHeads]).ToArray();
    }

    public override string Name => "spatten";
    public override bool EvictsWhileDecoding => true;
    public override KvStats Needs => KvStats.Cumulative | (_pruneHeads > 0 ? KvStats.HeadOutput : KvStats.None);
    public override bool IsPruned(int layer, int kvHead) => _headPruned[layer][kvHead];

    public override int[]?[] Evictions(LayerView layer)
    {
        if (layer.Layer == 0) _importance = new();
        foreach (var head in layer.Heads)
        {
            var c = Required(head.Cumulative, KvStats.Cumulative);
            for (int i = 0; i < head.Count; i++) _importance[head.Positions[i]] = _importance.GetValueOrDefault(head.Positions[i]) + c[i];
        }
        PruneHeads(layer);
        var result = new int[]?[layer.Heads.Length];
        for (int h = 0; h < result.Length; h++)
        {
            var head = layer.Heads[h];
            if (_headPruned[layer.Layer][h]) { result[h] = Enumerable.Range(0, head.Count).ToArray(); continue; }
            long cap = Capacity(layer.Layer, h, layer.BudgetLength);
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

    /// <summary>Prunes the layer's least important live heads (output magnitude accumulated by the cache) up to its quota.</summary>
    private void PruneHeads(LayerView layer)
    {
        if (_pruneHeads == 0) return;
        var importance = _headImportance[layer.Layer];
        var pruned = _headPruned[layer.Layer];
        for (int h = 0; h < layer.Heads.Length; h++)
            if (!pruned[h]) importance[h] = layer.Heads[h].OutputMagnitude ?? throw new InvalidOperationException("spatten: the cache did not provide head output magnitudes");
        int missing = _pruneHeads - pruned.Count(x => x);
        if (missing <= 0) return;
        var live = Enumerable.Range(0, pruned.Length).Where(h => !pruned[h]).OrderBy(h => importance[h]).ThenBy(h => h);
        foreach (var h in live.Take(missing)) pruned[h] = true;
    }
}
