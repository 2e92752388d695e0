using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (SampleRunner's clocks): the decode rate times decoding alone, the prefill rate the prefill (compression
/// included). A cache that takes 3 s to compress makes a passkey prefill of 120 tokens at most 40 tokens/s; had the
/// decode clock kept running from the prefill, its at most 10 tokens would show at most 10 / 3 = 3.3 tokens/s.
/// </summary>
public class DecodeClockTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Fact]
    public void A_slow_compression_counts_against_the_prefill_rate_only()
    {
        var m = Stories.Value;
        var o = new TaskOptions { Lengths = [120], Depths = [0.5], Samples = 1, Seed = 2 };
        var r = BenchRunner.Run(m, TaskRegistry.Create("passkey"), o, new SlowCompressFactory(TimeSpan.FromSeconds(3)));
        Assert.NotNull(r.DecodeTps);
        Assert.True(r.PrefillTps <= 40.0, $"prefill {r.PrefillTps} tokens/s");
        Assert.True(r.DecodeTps > 3.4, $"decode {r.DecodeTps} tokens/s");
    }

    private sealed class SlowCompressFactory(TimeSpan delay) : WatchedFullCacheFactory(CompressMode.Context)
    {
        protected override IKvCache Wrap(FullKvCache cache) => new SlowCompress(cache, delay);
    }

    private sealed class SlowCompress(FullKvCache inner, TimeSpan delay) : WatchedFullCache(inner)
    {
        public override void Compress() => Thread.Sleep(delay);
    }
}
