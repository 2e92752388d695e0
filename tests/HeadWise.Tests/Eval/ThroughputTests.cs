using HeadWise.Eval;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (BenchRunner's rates): a run's prefill and decode rates are all samples' tokens over all their seconds
/// (rounded to 0.1), not a per-sample maximum; no tokens decoded means no rate. Hand-made outcomes, so no clock.
/// </summary>
public class ThroughputTests
{
    private static SampleOutcome Outcome(int prefillTokens, double prefillSeconds, int decodeTokens, double decodeSeconds) =>
        new(new EvalSample { Length = 1, Tokens = [0] }, 0, null, null, 0, 0, 0, 0, 0, 0, prefillTokens, prefillSeconds, decodeTokens, decodeSeconds, null);

    [Fact]
    public void Rates_pool_tokens_and_seconds_over_samples()
    {
        var (prefill, decode) = BenchRunner.Throughput([Outcome(100, 1.0, 10, 0.5), Outcome(300, 2.0, 30, 0.25)]);
        Assert.Equal(133.3, prefill);   // 400 tokens / 3 s
        Assert.Equal(53.3, decode);     // 40 tokens / 0.75 s
    }

    [Fact]
    public void Nothing_decoded_gives_no_decode_rate()
    {
        var (prefill, decode) = BenchRunner.Throughput([Outcome(120, 0.5, 0, 0.1), Outcome(60, 0.5, 0, 0.1)]);
        Assert.Equal(180.0, prefill);
        Assert.Null(decode);
    }
}
