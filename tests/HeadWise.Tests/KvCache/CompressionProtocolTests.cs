using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// The compression protocol on constructed cases: a one-shot compression at the end of the context (or after the
/// question) with the capacity fixed from then on, and each policy's decode behaviour afterwards.
/// </summary>
public class CompressionProtocolTests
{
    [Fact]
    public void Streaming_compresses_once_at_the_context_end_then_rolls_at_that_capacity()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("streaming", KvBudget.Parse("0.25"), spec, parameters: "sinks=2"), CompressMode.Context);
        RunOneShot(cache, spec, context: 20, decode: 4, (_, _) => 0f);
        // ceil(0.25 x 20) = 5 at the compression, and still 5 after 4 decode steps (chunked would grow it to 6).
        Assert.Equal(new long[] { 0, 1, 21, 22, 23 }, cache.KeptPositions(0, 0));
        long perPosition = 2 * HeadDim * 2 * sizeof(float);
        Assert.Equal(5 * perPosition, cache.Bytes);
        Assert.Equal(20 * perPosition, cache.PeakBytes);   // the whole context, held until it compressed
    }

    [Fact]
    public void H2o_picks_heavy_hitters_from_the_whole_context_then_evicts_every_step_at_that_capacity()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("h2o", KvBudget.Parse("0.25"), spec), CompressMode.Context);
        // Capacity ceil(0.25 x 20) = 5: 2 recent + 3 heavy hitters. 3 and 7 draw nearly all attention; of the rest,
        // position 0 has the most (1 + 1/2 + 1/3 from the first queries, before 3 exists).
        RunOneShot(cache, spec, context: 20, decode: 0, (_, p) => p is 3 or 7 ? 10f : 0f);
        Assert.Equal(new long[] { 0, 3, 7, 18, 19 }, cache.KeptPositions(0, 1));
        for (int i = 0; i < 4; i++)
        {
            using var scope = torch.NewDisposeScope();
            var (q, k, v) = Step(spec, 20 + i, 1, (_, _) => 0f);
            cache.Attend(0, q, k, v);
            cache.Advance(1);
        }
        // Decoding evicts every step and the capacity stays 5: the heavy hitters stay, the recent pair rolls.
        Assert.Equal(new long[] { 0, 3, 7, 22, 23 }, cache.KeptPositions(0, 1));
    }

    /// <summary>
    /// Keys: 5 points along e1, 17 along e2. Context queries look along e2, question queries along e1. SnapKV's window is
    /// the last context queries under `context` (it keeps 17) and the question under `question` (it keeps 5, the needle
    /// the question asks for); compressing chunk by chunk evicts 5 before the question exists.
    /// </summary>
    [Theory]
    [InlineData(CompressMode.Context, new long[] { 17, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47 })]
    [InlineData(CompressMode.Question, new long[] { 5, 44, 45, 46, 47 })]
    public void SnapKv_observes_the_context_end_or_the_question(CompressMode mode, long[] expected)
    {
        var spec = Spec();
        var (q, k, v) = NeedleAndQuestion(spec);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("snapkv", KvBudget.Parse("5"), spec, parameters: "window=4,kernel=1"), mode);
        int compressAt = mode == CompressMode.Context ? 40 : 48;
        Feed(cache, q, k, v, 0, compressAt);
        cache.Compress();
        if (compressAt < 48) Feed(cache, q, k, v, compressAt, 48);
        for (int h = 0; h < 2; h++) Assert.Equal(expected, cache.KeptPositions(0, h));
    }

    [Fact]
    public void SnapKv_compressing_chunk_by_chunk_loses_the_needle_before_the_question()
    {
        var spec = Spec();
        var (q, k, v) = NeedleAndQuestion(spec);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("snapkv", KvBudget.Parse("5"), spec, parameters: "window=4,kernel=1"), CompressMode.Chunked);
        Feed(cache, q, k, v, 0, 40);
        Assert.Equal(new long[] { 17, 36, 37, 38, 39 }, cache.KeptPositions(0, 0));
        Feed(cache, q, k, v, 40, 48);
        Assert.DoesNotContain(5L, cache.KeptPositions(0, 0));
    }

    [Fact]
    public void SnapKv_window_votes_do_not_pool_into_the_positions_before_the_window()
    {
        var spec = Spec();
        // The window (16..19) attends itself heavily (keys 12u) and 3 moderately (6u); 15 not at all. Pooled with kernel 3,
        // 3's vote covers 2, 3 and 4, which fill the 3 places beside the window; a window position's vote pooled over its
        // neighbours would carry 15 above them, but SnapKV pools the positions before the window only.
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("snapkv", KvBudget.Parse("7"), spec, parameters: "window=4,kernel=3"), CompressMode.Context);
        RunOneShot(cache, spec, context: 20, decode: 0, (_, p) => p >= 16 ? 12f : p == 3 ? 6f : 0f);
        Assert.Equal(new long[] { 2, 3, 4, 16, 17, 18, 19 }, cache.KeptPositions(0, 0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void After_a_one_shot_compression_only_a_policy_that_evicts_while_decoding_is_asked_again(bool evictsWhileDecoding)
    {
        var spec = Spec();
        var policy = new CountingPolicy(spec, KvBudget.Parse("6"), evictsWhileDecoding);
        using var cache = new HeadWiseKvCache(spec, policy, CompressMode.Context);
        RunOneShot(cache, spec, context: 20, decode: 0, (_, _) => 0f);
        Assert.Equal(1, policy.Calls);   // the compression, with the statistics it declared
        Assert.True(policy.SawStatistics);
        RunDecode(cache, spec, from: 20, steps: 10);
        if (evictsWhileDecoding)
        {
            Assert.Equal(11, policy.Calls);
            Assert.Equal(6, cache.Kept(0, 0));
        }
        else
        {
            // Appends only: never asked again, the kept cache grows by the decoded tokens.
            Assert.Equal(1, policy.Calls);
            Assert.Equal(16, cache.Kept(0, 0));
            Assert.Equal(Range(14, 30), cache.KeptPositions(0, 1));
        }
    }

    [Fact]
    public void SpAtten_cascade_runs_at_the_compression_and_keeps_pruning_while_decoding()
    {
        var spec = Spec(layers: 2);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("spatten", KvBudget.Parse("3,8"), spec), CompressMode.Context);
        // As in the chunked case: layer 0 keeps 3, 7 and 0; layer 1 (room for 8, its own keys favouring 10) keeps only
        // what layer 0 kept; each decoded token is pruned at once (it has the least accumulated attention).
        for (long start = 0; start < 23;)
        {
            int t = start == 0 ? 20 : 1;
            using var scope = torch.NewDisposeScope();
            for (int l = 0; l < 2; l++)
            {
                var (q, k, v) = Step(spec, start, t, (_, p) => l == 0 && (p == 3 || p == 7) ? 10f : l == 1 && p == 10 ? 10f : 0f);
                cache.Attend(l, q, k, v);
            }
            cache.Advance(t);
            if (start == 0) cache.Compress();
            start += t;
        }
        for (int l = 0; l < 2; l++) Assert.Equal(new long[] { 0, 3, 7 }, cache.KeptPositions(l, 0));
    }

    [Theory]
    [InlineData(CompressMode.Context)]
    [InlineData(CompressMode.Question)]
    [InlineData(CompressMode.Chunked)]
    public void Full_is_the_plain_cache_under_every_protocol(CompressMode mode)
    {
        var spec = Spec();
        using var cache = KvPolicies.Create("full", KvBudget.All, spec).CreateCache(mode);
        Assert.IsType<FullKvCache>(cache);
    }

    private static void RunDecode(HeadWiseKvCache cache, ModelSpec spec, int from, int steps)
    {
        for (int i = 0; i < steps; i++)
        {
            using var scope = torch.NewDisposeScope();
            var (q, k, v) = Step(spec, from + i, 1, (_, _) => 0f);
            cache.Attend(0, q, k, v);
            cache.Advance(1);
        }
    }

    /// <summary>48 positions: keys 10 e1 at 5 and 10 e2 at 17, 0 elsewhere; queries e2 before 40 (context), e1 from 40 (question).</summary>
    private static (Tensor Q, Tensor K, Tensor V) NeedleAndQuestion(ModelSpec spec)
    {
        var q = torch.zeros(1, spec.Heads, 48, HeadDim);
        q[.., .., ..40, 2] = 1;
        q[.., .., 40.., 1] = 1;
        var k = torch.zeros(1, spec.KvHeads, 48, HeadDim);
        k[0, .., 5, 1] = 10;
        k[0, .., 17, 2] = 10;
        torch.manual_seed(2);
        return (q, k, torch.randn(1, spec.KvHeads, 48, HeadDim));
    }

    private static void Feed(HeadWiseKvCache cache, Tensor q, Tensor k, Tensor v, int from, int to)
    {
        using var scope = torch.NewDisposeScope();
        cache.Attend(0, q.narrow(2, from, to - from), k.narrow(2, from, to - from), v.narrow(2, from, to - from));
        cache.Advance(to - from);
    }

    /// <summary>Keeps the most recent positions and counts how often the cache asks it, checking the statistics it declared arrive.</summary>
    private sealed class CountingPolicy(ModelSpec spec, KvBudget budget, bool evictsWhileDecoding) : KvPolicy(spec, budget)
    {
        public int Calls;
        public bool SawStatistics;
        public override string Name => "counting";
        public override KvStats Needs => KvStats.Window | KvStats.Cumulative;
        public override int Window => 2;
        public override bool EvictsWhileDecoding => evictsWhileDecoding;

        public override int[]?[] Evictions(LayerView layer)
        {
            Calls++;
            SawStatistics = layer.Heads.All(h => h.Window is not null && h.Cumulative is not null);
            return base.Evictions(layer);
        }

        public override double[] Score(HeadView head, long length, long capacity) => ByPosition(head);
    }
}
