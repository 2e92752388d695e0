using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `taskkv` (Task-KV, "Task-aware KV Cache Optimization via Semantic Differentiation of Attention Heads"): heads whose
/// atlas score <c>heterogeneity</c> is in the top <see cref="FullFraction"/> keep everything; the others keep
/// <see cref="Sinks"/> sink tokens, a recent window (<see cref="RecentFraction"/> of the budget) and, in the middle, the
/// positions with the most cumulative attention ("middle activations"). Fractions are this project's defaults.
/// </summary>
public sealed class TaskKvPolicy : KvPolicy
{
    public static PolicyDeclaration Declaration { get; } = new("taskkv", "Task-KV",
        "heterogeneous heads full, others sinks + recent + middle activations (simplified: one fixed top share of heads from probe text, not per task; docs/fidelity.md)",
        [
            PolicyParameter.Number("full", 0.2, "fraction of heads (top heterogeneity) that keep their full cache", 0, 1),
            PolicyParameter.Integer("sinks", 4, "sink tokens of the other heads", min: 0),
            PolicyParameter.Number("recent", 0.5, "share of the other heads' budget for recent tokens", 0, 1),
            PolicyParameter.Name("score", "heterogeneity", "the atlas score that picks the full heads"),
        ],
        a => new TaskKvPolicy(a.Spec, a.Budget, a.Atlas, a.Number("full"), a.Integer("sinks"), a.Number("recent"), a.Name("score"))) { ReadsScore = "heterogeneity" };

    private readonly bool[][] _full;

    public TaskKvPolicy(ModelSpec spec, KvBudget budget, HeadScores atlas, double fullFraction, int sinks, double recentFraction, string score)
        : base(spec, budget)
    {
        FullFraction = fullFraction; Sinks = sinks; RecentFraction = recentFraction;
        var s = atlas.PerKvHead(score, spec, "taskkv");
        int top = (int)Math.Round(fullFraction * spec.Layers * spec.KvHeads);
        var chosen = s.SelectMany((r, l) => r.Select((x, h) => (x, l, h))).OrderByDescending(e => e.x).ThenBy(e => e.l).ThenBy(e => e.h).Take(top).ToHashSet();
        _full = s.Select((r, l) => r.Select((x, h) => chosen.Contains((x, l, h))).ToArray()).ToArray();
    }

    public double FullFraction { get; }
    public int Sinks { get; }
    public double RecentFraction { get; }
    public override string Name => "taskkv";
    public override bool EvictsWhileDecoding => false;
    public override KvStats Needs => KvStats.Cumulative;

    public bool IsFull(int layer, int kvHead) => _full[layer][kvHead];

    public override long Capacity(int layer, int head, long length) => _full[layer][head] ? length : Budget.Tokens(layer, head, length);

    public override double[] Score(HeadView head, long length, long capacity)
    {
        long recent = (long)Math.Floor(capacity * RecentFraction);
        var p = Required(head.Cumulative, KvStats.Cumulative).AsSpan(0, head.Count).ToArray();
        return Protect(p, head, Math.Min(Sinks, capacity), length - recent);
    }
}
