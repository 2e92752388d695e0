using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>Each policy on a case where the positions it must keep are known in advance.</summary>
public class PolicyConstructedCaseTests
{
    [Fact]
    public void Streaming_keeps_sinks_and_recent_through_prefill_and_decode()
    {
        var spec = Spec();
        using var cache = new HeadWiseCache(spec, KvPolicies.Create("streaming", KvBudget.Parse("6"), spec, parameters: "sinks=2"));
        Run(cache, spec, tokens: 20, prefill: 10, (_, _) => 0f);
        long[] expected = [0, 1, 16, 17, 18, 19];
        for (int h = 0; h < 2; h++) Assert.Equal(expected, cache.KeptPositions(0, h));
        Assert.Equal(20, cache.Length);
    }

    [Fact]
    public void Streaming_ratio_budget_grows_with_the_sequence()
    {
        var spec = Spec();
        using var cache = new HeadWiseCache(spec, new StreamingPolicy(spec, KvBudget.Parse("0.25"), sinks: 1));
        Run(cache, spec, tokens: 40, prefill: 8, (_, _) => 0f);
        // ceil(0.25 * 40) = 10: sink 0 and the 9 most recent.
        Assert.Equal(new long[] { 0 }.Concat(Range(31, 40)), cache.KeptPositions(0, 1));
    }

    [Fact]
    public void H2o_keeps_heavy_hitters_and_recent()
    {
        var spec = Spec();
        using var cache = new HeadWiseCache(spec, KvPolicies.Create("h2o", KvBudget.Parse("4"), spec));
        Run(cache, spec, tokens: 20, prefill: 12, (h, p) => p == 3 || p == 7 + h ? 10f : 0f);
        Assert.Equal(new long[] { 3, 7, 18, 19 }, cache.KeptPositions(0, 0));
        Assert.Equal(new long[] { 3, 8, 18, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void SnapKv_keeps_the_window_and_what_it_attends_with_pooled_neighbours()
    {
        var spec = Spec();
        using var cache = new HeadWiseCache(spec, KvPolicies.Create("snapkv", KvBudget.Parse("5"), spec, parameters: "window=2,kernel=3"));
        // One prefill chunk: the last 2 queries vote; 5 outweighs 11, and pooling carries 5's vote to 4 and 6.
        Run(cache, spec, tokens: 20, prefill: 20, (_, p) => p == 5 ? 12f : p == 11 ? 8f : 0f);
        Assert.Equal(new long[] { 4, 5, 6, 18, 19 }, cache.KeptPositions(0, 0));
    }

    [Fact]
    public void SnapKv_without_pooling_keeps_the_two_voted_positions()
    {
        var spec = Spec();
        using var cache = new HeadWiseCache(spec, new SnapKvPolicy(spec, KvBudget.Parse("4"), window: 2, kernel: 1));
        Run(cache, spec, tokens: 20, prefill: 20, (_, p) => p == 5 ? 12f : p == 11 ? 8f : 0f);
        Assert.Equal(new long[] { 5, 11, 18, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void PyramidKv_layer_budgets_fall_linearly_and_keep_the_total()
    {
        var spec = Spec(layers: 3);
        var policy = new PyramidKvPolicy(spec, KvBudget.Parse("100"), beta: 20);
        // last = 100/20 = 5, first = 2*100 - 5 = 195, middle = 100.
        Assert.Equal(new long[] { 195, 100, 5 }, Enumerable.Range(0, 3).Select(l => policy.Capacity(l, 0, 1000)).ToArray());
        Assert.Equal(300 * 2, KvSizes.KeptPositions(policy, 1000));
        using var cache = new HeadWiseCache(spec, policy);
        Run(cache, spec, tokens: 250, prefill: 250, (_, _) => 0f);
        Assert.Equal(new[] { 195, 100, 5 }, Enumerable.Range(0, 3).Select(l => cache.Kept(l, 1)).ToArray());
    }

    [Fact]
    public void AdaKv_gives_a_concentrated_heads_budget_to_its_heavy_positions_above_the_floor()
    {
        var spec = Spec();
        using var cache = new HeadWiseCache(spec, new AdaKvPolicy(spec, KvBudget.Parse("4"), window: 1, kernel: 1, floor: 0.25));
        // Head 0 attends 6 heavy positions; head 1 attends uniformly. Layer total 8; floor ceil(0.25 * 4) = 1 per head.
        long[] heavy = [2, 4, 6, 8, 10, 12];
        Run(cache, spec, tokens: 20, prefill: 20, (h, p) => h == 0 && heavy.Contains(p) ? 12f : 0f);
        Assert.Equal(heavy.Append(19), cache.KeptPositions(0, 0));
        Assert.Equal(new long[] { 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void HeadKv_splits_the_pool_by_retrieval_score()
    {
        var spec = Spec();
        var atlas = new HeadScores("test", new() { ["retrieval"] = [[4.0, 1.0]] });
        using var cache = new HeadWiseCache(spec, KvPolicies.Create("headkv", KvBudget.Parse("10"), spec, atlas));
        Run(cache, spec, tokens: 30, prefill: 30, (_, _) => 0f);
        // beta 2: base 5 each; pool 5 x 2 heads = 10 shared 0.8 / 0.2.
        Assert.Equal(13, cache.Kept(0, 0));
        Assert.Equal(7, cache.Kept(0, 1));
    }

    [Fact]
    public void Duo_keeps_everything_in_full_heads_and_the_trained_sinks_plus_recent_elsewhere_whatever_the_budget()
    {
        var spec = Spec(heads: 4);
        var tsv = Path.Combine(TestPaths.NewTempDir(), "full_attention_heads.tsv");
        new HeadWise.Analysis.DuoPattern([[0.9, 0.1]], Sinks: 2, Recent: 4).Write(tsv);
        // Sparsity 0.75 of 2 heads: ceil(0.75) = 1 streams. The budget (6) plays no part: the pattern keeps 2 + 4.
        using var cache = new HeadWiseCache(spec, KvPolicies.Create("duo", KvBudget.Parse("3"), spec, HeadScores.Load(tsv)));
        Run(cache, spec, tokens: 20, prefill: 10, (_, _) => 0f);
        Assert.Equal(Range(0, 20), cache.KeptPositions(0, 0));
        Assert.Equal(new long[] { 0, 1, 16, 17, 18, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void TaskKv_keeps_heterogeneous_heads_full_and_sinks_recent_middle_activations_elsewhere()
    {
        var spec = Spec();
        var atlas = new HeadScores("test", new() { ["heterogeneity"] = [[1.0, 0.0]] });
        using var cache = new HeadWiseCache(spec, KvPolicies.Create("taskkv", KvBudget.Parse("6"), spec, atlas, "full=0.5,sinks=1"));
        Run(cache, spec, tokens: 20, prefill: 14, (h, p) => h == 1 && (p == 8 || p == 12) ? 10f : 0f);
        Assert.Equal(Range(0, 20), cache.KeptPositions(0, 0));
        Assert.Equal(new long[] { 0, 8, 12, 17, 18, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void Full_keeps_everything()
    {
        var spec = Spec();
        using var cache = new HeadWiseCache(spec, KvPolicies.Create("full", KvBudget.Parse("1"), spec));
        Run(cache, spec, tokens: 15, prefill: 5, (_, _) => 0f);
        Assert.Equal(Range(0, 15), cache.KeptPositions(0, 1));
    }
}
