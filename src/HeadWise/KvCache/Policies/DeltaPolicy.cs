using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `delta` (DELTA, "Dynamic Layer-Aware Token Attention for Efficient Long-Context Reasoning"): the full cache is kept
/// and DELTA saves attention compute, not memory. The first <see cref="FullLayers"/> layers attend everything; from
/// there every <see cref="Every"/>-th layer is a Δ-layer, which attends everything and, for each query, selects the
/// positions its heads attend most; the sparse layers after a Δ-layer attend only that selection plus
/// <see cref="Sinks"/> sinks and the most recent positions (<see cref="RecentFraction"/> of the budget). The budget is
/// what a sparse layer attends per query: a ratio of the positions the query sees, or a count. Selection and masks:
/// <see cref="DeltaKvCache"/>.
/// </summary>
public sealed class DeltaPolicy : KvPolicy
{
    public static PolicyDeclaration Declaration { get; } = new("delta", "DELTA",
        "keeps the full cache; first layers attend everything, Δ-layers select per query the positions their heads attend most, the sparse layers after them attend that selection + sinks + recent (the budget: what a sparse layer attends; simplified: one selection per query shared by all heads, HeadWise's defaults, masked not gathered so no compute saved; docs/fidelity.md)",
        [
            PolicyParameter.Integer("full", 2, "first layers that attend everything", min: 0),
            PolicyParameter.Integer("every", 4, "a Δ-layer every this many layers after them (the layers between attend sparsely)", min: 1),
            PolicyParameter.Integer("sinks", 4, "first positions every sparse layer attends", min: 0),
            PolicyParameter.Number("recent", 0.25, "share of the budget for the most recent positions", 0, 1),
        ],
        a => new DeltaPolicy(a.Spec, a.Budget, a.Integer("full"), a.Integer("every"), a.Integer("sinks"), a.Number("recent")));

    public DeltaPolicy(ModelSpec spec, KvBudget budget, int fullLayers, int every, int sinks, double recentFraction) : base(spec, budget)
    {
        if (fullLayers < 0 || every < 1 || fullLayers + 2 > spec.Layers)
            throw new HeadWiseException($"delta: full={fullLayers} and every={every} need full >= 0, every >= 1 and full + 2 <= {spec.Layers} " +
                                        "(the model's layers: a Δ-layer and at least one sparse layer after the full ones)");
        if (sinks < 0) throw new HeadWiseException($"delta: sinks must be >= 0, got {sinks}");
        if (recentFraction is < 0 or > 1) throw new HeadWiseException($"delta: recent fraction must be in [0, 1], got {recentFraction}");
        FullLayers = fullLayers; Every = every; Sinks = sinks; RecentFraction = recentFraction;
    }

    public int FullLayers { get; }
    public int Every { get; }
    public int Sinks { get; }
    public double RecentFraction { get; }
    public override string Name => "delta";
    public override bool EvictsWhileDecoding => false;

    public enum LayerRole { Full, Selection, Sparse }

    public LayerRole Role(int layer) =>
        layer < FullLayers ? LayerRole.Full : (layer - FullLayers) % Every == 0 ? LayerRole.Selection : LayerRole.Sparse;

    /// <summary>Positions a sparse layer attends for a query that sees <paramref name="visible"/> positions: (sinks, recent, selected by the Δ-layer).</summary>
    public (long Sinks, long Recent, long Selected) Split(int layer, long visible)
    {
        long total = Math.Min(visible, Budget.Tokens(layer, 0, visible));
        long sinks = Math.Min(Sinks, total);
        long recent = Math.Min(total - sinks, (long)Math.Floor(total * RecentFraction));
        return (sinks, recent, total - sinks - recent);
    }

    /// <summary>The full cache: nothing is evicted.</summary>
    public override long Capacity(int layer, int head, long length) => length;
    public override int[]?[] Evictions(LayerView layer) => new int[]?[layer.Heads.Length];
    public override IKvCache CreateCache(CompressMode mode) => new DeltaKvCache(this);
}
