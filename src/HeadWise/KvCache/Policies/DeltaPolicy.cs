using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `delta` (DELTA, "Dynamic Layer-Aware Token Attention"): the first <see cref="FullLayers"/> layers (default 2) keep
/// every position; the next <see cref="SelectionLayers"/> (default 1) also keep everything and, each step, pick the
/// top-k salient positions by the attention they received (summed over their heads); every later layer keeps only that
/// selection plus <see cref="Sinks"/> sinks (4) and the recent <see cref="RecentFraction"/> of its budget (0.5).
/// k = budget - sinks - recent. Later layers evict permanently, so a position selected again after it left stays gone.
/// </summary>
public sealed class DeltaPolicy : KvPolicy
{
    public static PolicyDeclaration Declaration { get; } = new("delta", "DELTA",
        "full first layers, selection layers pick top-k salient tokens, later layers keep selection + sinks + recent (simplified: evicts instead of keeping the full cache; docs/fidelity.md)",
        [
            PolicyParameter.Integer("full", 2, "first layers that keep everything", min: 0),
            PolicyParameter.Integer("select", 1, "selection layers after them", min: 1),
            PolicyParameter.Integer("sinks", 4, "sink tokens of the later layers", min: 0),
            PolicyParameter.Number("recent", 0.5, "share of the later layers' budget for recent tokens", 0, 1),
        ],
        a => new DeltaPolicy(a.Spec, a.Budget, a.Integer("full"), a.Integer("select"), a.Integer("sinks"), a.Number("recent")));

    private Dictionary<long, double> _salience = new();
    private HashSet<long> _selected = new();

    public DeltaPolicy(ModelSpec spec, KvBudget budget, int fullLayers, int selectionLayers, int sinks, double recentFraction) : base(spec, budget)
    {
        if (fullLayers < 0 || selectionLayers < 1 || fullLayers + selectionLayers > spec.Layers)
            throw new HeadWiseException($"delta: full={fullLayers} and select={selectionLayers} layers need full >= 0, select >= 1 and full + select <= {spec.Layers} (the model's layers)");
        if (sinks < 0) throw new HeadWiseException($"delta: sinks must be >= 0, got {sinks}");
        if (recentFraction is < 0 or > 1) throw new HeadWiseException($"delta: recent fraction must be in [0, 1], got {recentFraction}");
        FullLayers = fullLayers; SelectionLayers = selectionLayers; Sinks = sinks; RecentFraction = recentFraction;
    }

    public int FullLayers { get; }
    public int SelectionLayers { get; }
    public int Sinks { get; }
    public double RecentFraction { get; }
    public override string Name => "delta";
    public override bool EvictsWhileDecoding => true;
    public override KvStats Needs => KvStats.Cumulative;

    private bool Sparse(int layer) => layer >= FullLayers + SelectionLayers;

    public override long Capacity(int layer, int head, long length) => Sparse(layer) ? Budget.Tokens(layer, head, length) : length;

    public override int[]?[] Evictions(LayerView layer)
    {
        if (layer.Layer < FullLayers) return new int[]?[layer.Heads.Length];
        if (!Sparse(layer.Layer)) { Select(layer); return new int[]?[layer.Heads.Length]; }
        return base.Evictions(layer);
    }

    /// <summary>Selection layers: salience summed over their heads; the last one fixes this step's top-k.</summary>
    private void Select(LayerView layer)
    {
        if (layer.Layer == FullLayers) _salience = new();
        foreach (var head in layer.Heads)
        {
            var c = Required(head.Cumulative, KvStats.Cumulative);
            for (int i = 0; i < head.Count; i++) _salience[head.Positions[i]] = _salience.GetValueOrDefault(head.Positions[i]) + c[i];
        }
        if (layer.Layer != FullLayers + SelectionLayers - 1) return;
        long cap = Budget.Tokens(FullLayers + SelectionLayers, 0, layer.BudgetLength);
        long sinks = Math.Min(Sinks, cap), recent = (long)Math.Floor(cap * RecentFraction);
        long k = Math.Max(0, cap - sinks - recent);
        _selected = _salience.Where(e => e.Key >= sinks && e.Key < layer.Length - recent)
            .OrderByDescending(e => e.Value).ThenBy(e => e.Key).Take((int)k).Select(e => e.Key).ToHashSet();
    }

    /// <summary>Sparse layers: sinks and recent protected, the selection ranked by salience, everything else first out.</summary>
    public override double[] Score(HeadView head, long length, long capacity)
    {
        var p = new double[head.Count];
        for (int i = 0; i < p.Length; i++)
            p[i] = _selected.Contains(head.Positions[i]) ? _salience.GetValueOrDefault(head.Positions[i]) : -1;
        return Protect(p, head, Math.Min(Sinks, capacity), length - (long)Math.Floor(capacity * RecentFraction));
    }
}
