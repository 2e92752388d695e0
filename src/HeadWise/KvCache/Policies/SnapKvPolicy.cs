using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `snapkv` (SnapKV, Li et al. 2024, "SnapKV: LLM Knows What You are Looking for Before Generation"): the last
/// <see cref="Window"/> queries of each prefill chunk (paper: 32) vote for positions; votes are max-pooled over
/// neighbouring positions (paper: kernel 7) and summed over the KV group; the window itself is always kept.
/// When decoding, the observation window is the current query.
/// </summary>
public class SnapKvPolicy(ModelSpec spec, KvBudget budget, int window = 32, int kernel = 7) : KvPolicy(spec, budget)
{
    private readonly int _window = window >= 1 ? window : throw new HeadWiseException($"snapkv: window must be >= 1, got {window}");
    public int Kernel { get; } = kernel >= 1 && kernel % 2 == 1 ? kernel : throw new HeadWiseException($"snapkv: pooling kernel must be odd and >= 1, got {kernel}");
    public override string Name => "snapkv";
    public override KvStats Needs => KvStats.Window;
    public override int Window => _window;

    protected override double[] Priority(HeadView head, long length, long capacity) => Scores(head, length, capacity);

    /// <summary>Pooled observation-window scores with the window protected (shared by PyramidKV, Ada-KV, HeadKV).</summary>
    internal double[] Scores(HeadView head, long length, long capacity)
    {
        var votes = Required(head.Window, KvStats.Window);
        var p = Ranking.MaxPoolByPosition(votes, head.Positions, head.Count, Kernel);
        return Protect(p, head, 0, length - Math.Min(_window, capacity));
    }
}
