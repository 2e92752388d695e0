using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `h2o` (H2O, Zhang et al. 2023, "Heavy-Hitter Oracle"): keeps the recent window and the "heavy hitters", the positions
/// with the largest cumulative attention from all queries so far. The paper splits the budget equally (RecentFraction 0.5).
/// </summary>
public sealed class H2oPolicy(ModelSpec spec, KvBudget budget, double recentFraction = 0.5) : KvPolicy(spec, budget)
{
    public double RecentFraction { get; } = recentFraction is >= 0 and <= 1 ? recentFraction
        : throw new HeadWiseException($"h2o: recent fraction must be in [0, 1], got {recentFraction}");
    public override string Name => "h2o";
    public override KvStats Needs => KvStats.Cumulative;

    protected override double[] Priority(HeadView head, long length, long capacity)
    {
        long recent = (long)Math.Floor(capacity * RecentFraction);
        var p = Required(head.Cumulative, KvStats.Cumulative).AsSpan(0, head.Count).ToArray();
        return Protect(p, head, 0, length - recent);
    }
}
