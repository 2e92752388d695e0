using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `streaming` (StreamingLLM, Xiao et al. 2023, "Efficient Streaming Language Models with Attention Sinks"): the first
/// <see cref="Sinks"/> positions (paper: 4 attention sinks) plus the most recent ones up to the budget.
/// </summary>
public sealed class StreamingPolicy(ModelSpec spec, KvBudget budget, int sinks = 4) : KvPolicy(spec, budget)
{
    public int Sinks { get; } = sinks >= 0 ? sinks : throw new HeadWiseException($"streaming: sinks must be >= 0, got {sinks}");
    public override string Name => "streaming";

    protected override double[] Priority(HeadView head, long length, long capacity) =>
        Protect(ByPosition(head), head, Math.Min(Sinks, capacity), long.MaxValue);
}
