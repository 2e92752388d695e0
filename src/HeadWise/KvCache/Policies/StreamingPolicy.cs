using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `streaming` (StreamingLLM, Xiao et al. 2023, "Efficient Streaming Language Models with Attention Sinks"): the first
/// <see cref="Sinks"/> positions (paper: 4 attention sinks) plus the most recent ones up to the budget, a window that
/// rolls while decoding (one eviction per step, no statistics). With <c>positions=cache</c>, the paper's position
/// rule: kept tokens sit at their places in the cache, not in the text (<see cref="StreamingKvCache"/>), so a rotary
/// model runs past its trained length.
/// </summary>
public sealed class StreamingPolicy(ModelSpec spec, KvBudget budget, int sinks, bool positionsInCache = false) : KvPolicy(spec, budget)
{
    public static PolicyDeclaration Declaration { get; } = new("streaming", "StreamingLLM (Xiao et al. 2023)",
        "attention sinks + the most recent tokens, rolling while decoding",
        [
            PolicyParameter.Integer("sinks", 4, "first positions always kept, the paper's attention sinks", min: 0),
            PolicyParameter.Choice("positions", "original", ["original", "cache"],
                "original: keys keep their positions in the text (the sweeps' setting); cache: the paper's, positions within the cache, so a rotary model " +
                "runs past its context: the cache rolls from the first token whatever --compress says and keeps at most context - 1 tokens"),
        ],
        a => new StreamingPolicy(a.Spec, a.Budget, a.Integer("sinks"), a.Name("positions") == "cache")) { IsScorer = true };

    public int Sinks { get; } = sinks;

    /// <summary>True for the paper's rule: positions within the cache (<see cref="StreamingKvCache"/>).</summary>
    public bool PositionsInCache { get; } = positionsInCache;

    public override string Name => "streaming";
    public override bool EvictsWhileDecoding => true;

    /// <summary>With positions in the cache nothing attended lies past the window, whatever the length (rotary models).</summary>
    public override long MaxLength => PositionsInCache ? int.MaxValue : base.MaxLength;

    public override IKvCache CreateCache(CompressMode mode) => PositionsInCache ? new StreamingKvCache(this) : base.CreateCache(mode);

    /// <summary>Decode evicts one slot a step: the oldest non-sink, found by a scan (no per-step score arrays).</summary>
    public override int[]?[] Evictions(LayerView layer)
    {
        if (layer.Step > 1) return base.Evictions(layer);
        var result = new int[]?[layer.Heads.Length];
        for (int h = 0; h < result.Length; h++)
        {
            var head = layer.Heads[h];
            long cap = Capacity(layer.Layer, h, layer.BudgetLength);
            if (head.Count <= cap) continue;
            if (head.Count - cap > 1) { result[h] = Ranking.Lowest(Score(head, layer.Length, cap), head.Count, (int)(head.Count - cap)); continue; }
            long sinks = Math.Min(Sinks, cap);
            int oldest = -1;
            for (int i = 0; i < head.Count; i++)
                if (head.Positions[i] >= sinks && (oldest < 0 || head.Positions[i] < head.Positions[oldest])) oldest = i;
            result[h] = [oldest];
        }
        return result;
    }

    public override double[] Score(HeadView head, long length, long capacity) =>
        Protect(ByPosition(head), head, Math.Min(Sinks, capacity), long.MaxValue);
}
