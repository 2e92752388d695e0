using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `snapkv` (SnapKV, Li et al. 2024, "SnapKV: LLM Knows What You are Looking for Before Generation"): the last
/// <see cref="Window"/> queries before the compression (paper: 32) vote for earlier positions with their attention,
/// summed over the window and the KV group; the votes are max-pooled over neighbouring positions (paper: kernel 7,
/// max pooling, the LongBench configuration) and the window itself is always kept. SnapKV compresses the prompt once
/// and then only appends while decoding. Compressing chunk by chunk (<c>--compress chunked</c>) the window is each
/// chunk's last queries, and when decoding the current query.
/// </summary>
public sealed class SnapKvPolicy(ModelSpec spec, KvBudget budget, int window, int kernel, string pooling) : KvPolicy(spec, budget)
{
    public static PolicyDeclaration Declaration { get; } = new("snapkv", "SnapKV (Li et al. 2024)",
        "the observation window's attention, max-pooled, picks each head's positions; compress once, then append",
        [
            PolicyParameter.Integer("window", 32, "observation window: the last queries before compression vote, and are kept", min: 1),
            PolicyParameter.Integer("kernel", 7, "pooling kernel over neighbouring positions, odd; the paper's 7 suits ~1-token words (32k vocabularies): with a small vocabulary (the testbed's 1,024 tokens, ~3 a word) kernel=31 covers a needle's answer phrase", min: 1),
            PolicyParameter.Choice("pooling", "max", ["max", "avg"], "max: the paper's LongBench setting; avg: its code's default, and kvpress's"),
        ],
        a => new SnapKvPolicy(a.Spec, a.Budget, a.Integer("window"), a.Integer("kernel"), a.Name("pooling"))) { IsScorer = true };

    public override int Window { get; } = window;
    public int Kernel { get; } = kernel % 2 == 1 ? kernel : throw new HeadWiseException($"snapkv: kernel={kernel} must be odd (a pooling kernel centred on each position)");
    /// <summary>True for average pooling, false for max pooling.</summary>
    public bool AveragePooling { get; } = pooling == "avg";
    public override string Name => "snapkv";
    public override KvStats Needs => KvStats.Window;
    public override bool EvictsWhileDecoding => false;

    /// <summary>Pooled votes of the positions before the window (the window's own votes take no part, as in the paper); the window protected.</summary>
    public override double[] Score(HeadView head, long length, long capacity)
    {
        var votes = Required(head.Window, KvStats.Window).AsSpan(0, head.Count).ToArray();
        long windowFrom = length - Math.Min(Window, capacity);
        for (int i = 0; i < votes.Length; i++)
            if (head.Positions[i] >= windowFrom) votes[i] = 0;   // votes are >= 0: a zero never wins a max-pool, and pads an average
        var p = Ranking.PoolByPosition(votes, head.Positions, head.Count, Kernel, AveragePooling);
        return Protect(p, head, 0, windowFrom);
    }
}
