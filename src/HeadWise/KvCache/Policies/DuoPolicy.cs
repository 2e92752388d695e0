using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `duo` (DuoAttention, Xiao et al. 2024, "Efficient Long-Context LLM Inference with Retrieval and Streaming Heads"):
/// KV heads whose gate (atlas score <c>duo-gate</c>, or DuoAttention's full_attention_heads.tsv) is above
/// <see cref="Threshold"/> (0.5) keep everything; the others keep sinks plus recent tokens within the budget. The paper
/// uses 64 sinks and 256 recent tokens (<c>--budget 320</c>); sinks are capped at half the budget.
/// A query-head gate is reduced over its KV group with max (a KV head is full if any of its query heads needs it).
/// </summary>
public sealed class DuoPolicy : KvPolicy
{
    private readonly bool[][] _full;

    public DuoPolicy(ModelSpec spec, KvBudget budget, HeadScores atlas, double threshold = 0.5, int sinks = 64, string score = "duo-gate")
        : base(spec, budget)
    {
        if (sinks < 0) throw new HeadWiseException($"duo: sinks must be >= 0, got {sinks}");
        Threshold = threshold;
        Sinks = sinks;
        _full = atlas.PerKvHead(score, spec, "duo", Enumerable.Max).Select(r => r.Select(x => x > threshold).ToArray()).ToArray();
    }

    public double Threshold { get; }
    public int Sinks { get; }
    public override string Name => "duo";

    /// <summary>True for retrieval (full-cache) heads.</summary>
    public bool IsFull(int layer, int kvHead) => _full[layer][kvHead];

    public override long Capacity(int layer, int head, long length) => _full[layer][head] ? length : Budget.Tokens(layer, head, length);

    protected override double[] Priority(HeadView head, long length, long capacity) =>
        Protect(ByPosition(head), head, Math.Min(Sinks, capacity / 2), long.MaxValue);
}
