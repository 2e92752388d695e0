using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `h2o` (H2O, Zhang et al. 2023, "Heavy-Hitter Oracle"): keeps the recent window and the "heavy hitters", the positions
/// with the largest attention accumulated from every query so far; it evicts at every decode step. The paper splits
/// the budget equally between the two (recent 0.5).
/// </summary>
public sealed class H2oPolicy(ModelSpec spec, KvBudget budget, double recentFraction) : KvPolicy(spec, budget)
{
    public static PolicyDeclaration Declaration { get; } = new("h2o", "H2O (Zhang et al. 2023)",
        "heavy hitters (most accumulated attention) + recent tokens, evicting at every decode step",
        [PolicyParameter.Number("recent", 0.5, "share of the budget for the most recent tokens; the paper splits equally", 0, 1)],
        a => new H2oPolicy(a.Spec, a.Budget, a.Number("recent"))) { IsScorer = true };

    public double RecentFraction { get; } = recentFraction;
    public override string Name => "h2o";
    public override KvStats Needs => KvStats.Cumulative;
    public override bool EvictsWhileDecoding => true;

    public override double[] Score(HeadView head, long length, long capacity)
    {
        long recent = (long)Math.Floor(capacity * RecentFraction);
        var p = Required(head.Cumulative, KvStats.Cumulative).AsSpan(0, head.Count).ToArray();
        return Protect(p, head, 0, length - recent);
    }
}
