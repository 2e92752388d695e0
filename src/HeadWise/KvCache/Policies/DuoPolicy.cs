using HeadWise.Analysis;
using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `duo` (DuoAttention, Xiao et al. 2024, "Efficient Long-Context LLM Inference with Retrieval and Streaming Heads"):
/// the KV heads whose learned gate is at or above the <see cref="Sparsity"/> quantile of all gates keep every position
/// (retrieval heads); every other head is a streaming head that keeps the first <see cref="Sinks"/> positions and the
/// last <see cref="Recent"/>, the streaming pattern the gates were trained with (read with them: atlas duo-gate params,
/// or DuoAttention's config.json beside full_attention_heads.tsv). The sparsity defaults to DuoAttention's: 0.75 for
/// multi-head attention (a quarter of heads full), 0.5 for grouped-query attention; a gate <see cref="Threshold"/>
/// replaces it when given. The budget does not apply: DuoAttention's memory follows from the sparsity and the pattern.
/// A query-head gate is reduced over its KV group with max (a KV head is full if any of its query heads needs it).
/// </summary>
public sealed class DuoPolicy : KvPolicy
{
    public static PolicyDeclaration Declaration { get; } = new("duo", "DuoAttention (Xiao et al. 2024)",
        "retrieval heads (gate at or above the sparsity quantile) keep every position, streaming heads the sinks + recent window the gates were trained with; the budget does not apply",
        [
            PolicyParameter.OptionalNumber("sparsity", "auto", "share of KV heads that stream; auto: DuoAttention's 0.75 for MHA, 0.5 for GQA", min: 0, max: 1),
            PolicyParameter.OptionalNumber("threshold", "none", "gate at or above which a KV head is full, instead of the sparsity", min: 0, max: 1),
            PolicyParameter.Name("score", "duo-gate", "the atlas score holding the gates"),
        ],
        a => new DuoPolicy(a.Spec, a.Budget, PatternFrom(a.Atlas, a.Spec, a.Name("score")), a.OptionalNumber("sparsity"), a.OptionalNumber("threshold")))
    { ReadsScore = "duo-gate", TakesBudget = false };

    private readonly bool[][] _full;

    /// <param name="sparsity">Share of KV heads that stream (null: DuoAttention's 0.75 for MHA, 0.5 for GQA).</param>
    /// <param name="threshold">Gate threshold; when given, heads with gate &gt;= threshold are full and the sparsity is not used.</param>
    public DuoPolicy(ModelSpec spec, KvBudget budget, DuoPattern pattern, double? sparsity = null, double? threshold = null) : base(spec, budget)
    {
        if (pattern.Layers != spec.Layers || pattern.KvHeads != spec.KvHeads)
            throw new HeadWiseException($"duo: the pattern is {pattern.Layers} layers x {pattern.KvHeads} KV heads but the model has {spec.Layers} x {spec.KvHeads}");
        if (threshold is { } th && !double.IsFinite(th)) throw new HeadWiseException($"duo: threshold must be a number, got {th}");
        Pattern = pattern;
        Threshold = threshold;
        Sparsity = threshold is null ? sparsity ?? DuoPattern.PaperSparsity(spec.GroupSize > 1) : null;
        _full = threshold is { } t ? pattern.FullByThreshold(t) : pattern.FullBySparsity(Sparsity!.Value);
    }

    /// <summary>The gates and the streaming pattern read from head scores (atlas or TSV).</summary>
    public static DuoPattern PatternFrom(HeadScores scores, ModelSpec spec, string score = "duo-gate")
    {
        var gates = scores.PerKvHead(score, spec, "duo", Enumerable.Max);
        var (sinks, recent) = DuoPattern.StreamingParams(scores.ParamsOf(score));
        return new DuoPattern(gates, sinks, recent);
    }

    public DuoPattern Pattern { get; }
    public double? Sparsity { get; }
    public double? Threshold { get; }
    public int Sinks => Pattern.Sinks;
    public int Recent => Pattern.Recent;
    public override string Name => "duo";
    /// <summary>Streaming heads roll their window while decoding; full heads never evict.</summary>
    public override bool EvictsWhileDecoding => true;

    /// <summary>True for retrieval (full-cache) heads.</summary>
    public bool IsFull(int layer, int kvHead) => _full[layer][kvHead];

    /// <summary>Full heads in (layer, KV head) order.</summary>
    public IEnumerable<(int Layer, int KvHead)> FullHeads() =>
        Enumerable.Range(0, Spec.Layers).SelectMany(l => Enumerable.Range(0, Spec.KvHeads).Where(h => _full[l][h]).Select(h => (l, h)));

    /// <summary>Full heads have no cap (after a one-shot compression the budget's length is frozen at the compression
    /// point, and a cap of that length would drop a position per decode step); streaming heads keep sinks + recent.</summary>
    public override long Capacity(int layer, int head, long length) => _full[layer][head] ? long.MaxValue : Math.Min(length, (long)Sinks + Recent);

    public override double[] Score(HeadView head, long length, long capacity) =>
        Protect(ByPosition(head), head, Sinks, long.MaxValue);
}
