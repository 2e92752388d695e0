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
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("streaming", KvBudget.Parse("6"), spec, parameters: "sinks=2"), CompressMode.Chunked);
        Run(cache, spec, tokens: 20, prefill: 10, (_, _) => 0f);
        long[] expected = [0, 1, 16, 17, 18, 19];
        for (int h = 0; h < 2; h++) Assert.Equal(expected, cache.KeptPositions(0, h));
        Assert.Equal(20, cache.Length);
    }

    [Fact]
    public void Streaming_ratio_budget_grows_with_the_sequence()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("streaming", KvBudget.Parse("0.25"), spec, parameters: "sinks=1"), CompressMode.Chunked);
        Run(cache, spec, tokens: 40, prefill: 8, (_, _) => 0f);
        // ceil(0.25 * 40) = 10: sink 0 and the 9 most recent.
        Assert.Equal(new long[] { 0 }.Concat(Range(31, 40)), cache.KeptPositions(0, 1));
    }

    /// <summary>
    /// After a one-shot compression a token-count budget is still a count: streaming from a 2-token context keeps a
    /// 6-token rolling window while decoding (a ratio budget would be a fraction of the 2 tokens at compression).
    /// </summary>
    [Fact]
    public void Streaming_token_budget_after_a_short_context_rolls_at_its_count()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("streaming", KvBudget.Parse("6"), spec, parameters: "sinks=2"), CompressMode.Context);
        RunOneShot(cache, spec, context: 2, decode: 3, (_, _) => 0f);
        Assert.Equal(Range(0, 5), cache.KeptPositions(0, 0));
        using var longer = new HeadWiseKvCache(spec, KvPolicies.Create("streaming", KvBudget.Parse("6"), spec, parameters: "sinks=2"), CompressMode.Context);
        RunOneShot(longer, spec, context: 2, decode: 10, (_, _) => 0f);
        Assert.Equal(new long[] { 0, 1, 8, 9, 10, 11 }, longer.KeptPositions(0, 1));
    }

    [Fact]
    public void H2o_keeps_heavy_hitters_and_recent()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("h2o", KvBudget.Parse("4"), spec), CompressMode.Chunked);
        Run(cache, spec, tokens: 20, prefill: 12, (h, p) => p == 3 || p == 7 + h ? 10f : 0f);
        Assert.Equal(new long[] { 3, 7, 18, 19 }, cache.KeptPositions(0, 0));
        Assert.Equal(new long[] { 3, 8, 18, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void SnapKv_keeps_the_window_and_what_it_attends_with_pooled_neighbours()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("snapkv", KvBudget.Parse("5"), spec, parameters: "window=2,kernel=3"), CompressMode.Chunked);
        // One prefill chunk: the last 2 queries vote; 5 outweighs 11, and pooling carries 5's vote to 4 and 6.
        Run(cache, spec, tokens: 20, prefill: 20, (_, p) => p == 5 ? 12f : p == 11 ? 8f : 0f);
        Assert.Equal(new long[] { 4, 5, 6, 18, 19 }, cache.KeptPositions(0, 0));
    }

    /// <summary>Average pooling (SnapKV's code, kvpress) spreads a vote as PyTorch's avg_pool1d with zero padding does: 3 → 1, 1, 1.</summary>
    [Fact]
    public void Average_pooling_spreads_a_vote_evenly_over_the_kernel_in_position_order()
    {
        long[] positions = [4, 0, 2, 1, 3];        // slots out of position order, as a cache holds them after evictions
        double[] votes = [0, 0, 3, 0, 0];          // the vote sits at position 2
        Assert.Equal(new double[] { 0, 0, 1, 1, 1 }, Ranking.PoolByPosition(votes, positions, 5, kernel: 3, average: true));
        double[] edge = [0, 6, 0, 0, 0];           // position 0: its missing left neighbour counts as 0
        Assert.Equal(new double[] { 0, 2, 0, 2, 0 }, Ranking.PoolByPosition(edge, positions, 5, kernel: 3, average: true));
        Assert.Equal(new double[] { 0, 6, 0, 6, 0 }, Ranking.PoolByPosition(edge, positions, 5, kernel: 3, average: false));
    }

    [Fact]
    public void SnapKv_without_pooling_keeps_the_two_voted_positions()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("snapkv", KvBudget.Parse("4"), spec, parameters: "window=2,kernel=1"), CompressMode.Chunked);
        Run(cache, spec, tokens: 20, prefill: 20, (_, p) => p == 5 ? 12f : p == 11 ? 8f : 0f);
        Assert.Equal(new long[] { 5, 11, 18, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void PyramidKv_layer_budgets_follow_the_papers_formula_beyond_the_window_and_keep_the_total()
    {
        var spec = Spec(layers: 3);
        var policy = KvPolicies.Create("pyramidkv", KvBudget.Parse("100"), spec, parameters: "beta=20,window=4");
        // The paper's code: base = 100 - 4 (window) = 96, last = 96 // 20 = 4, first = 2 x 96 - 4 = 188, step (188 - 4) / 2
        // = 92; every layer keeps the window on top: 192, 100, 8 (total 300 = 3 x 100).
        Assert.Equal(new long[] { 192, 100, 8 }, Enumerable.Range(0, 3).Select(l => policy.Capacity(l, 0, 1000)).ToArray());
        // At 150 tokens the first layer could hold only 146 beyond the window: first = 146, last = 2 x 96 - 146 = 46,
        // step 50 -> 150, 100, 50 (the total still 300).
        Assert.Equal(new long[] { 150, 100, 50 }, Enumerable.Range(0, 3).Select(l => policy.Capacity(l, 0, 150)).ToArray());
        Assert.Equal(300 * 2, KvSizes.KeptPositions(policy, 150));
        using var cache = new HeadWiseKvCache(spec, policy, CompressMode.Context);
        RunOneShot(cache, spec, context: 150, decode: 0, (_, _) => 0f);
        Assert.Equal(new[] { 150, 100, 50 }, Enumerable.Range(0, 3).Select(l => cache.Kept(l, 1)).ToArray());
    }

    [Fact]
    public void AdaKv_hands_a_layers_budget_to_the_top_scores_across_heads_with_the_floor()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("adakv", KvBudget.Parse("9"), spec, parameters: "window=1,kernel=1,floor=0.25"), CompressMode.Context);
        // Head 0 attends 12 heavy positions (key scales 8..10, each above 4 % of the window's attention); head 1 spreads its
        // attention (key scales 0.01 x position, each just under 2.5 %). Each head's base is 9 - 1 (window) = 8, the
        // layer's pool 16: head 0's 12 heavy positions and head 1's 4 best (35..38) are its top 16. Ada-KV keeps
        // round(chosen x 0.75 + floor(0.25 x 8)) + window: head 0 round(9 + 2) + 1 = 12 (its 11 best heavy: all but
        // the weakest, 2), head 1 round(3 + 2) + 1 = 6 (34..39). Total 18 = 2 x 9.
        long[] heavy = [2, 5, 7, 9, 12, 14, 17, 19, 22, 25, 27, 30];
        RunOneShot(cache, spec, context: 40, decode: 0, (h, p) => h == 0 ? (Array.IndexOf(heavy, p) is var i and >= 0 ? 8f + 2f * i / 11 : 0f) : 0.01f * p);
        Assert.Equal(heavy.Skip(1).Append(39), cache.KeptPositions(0, 0));
        Assert.Equal(Range(34, 40), cache.KeptPositions(0, 1));
    }

    [Fact]
    public void Allocations_compose_with_another_scorer()
    {
        var spec = Spec();
        // adakv over h2o: the layer's budget goes to the heaviest accumulated attention across heads; head 0 has 3
        // heavy positions, head 1 none (keys 0: its accumulated attention falls with position, 0 highest).
        var policy = KvPolicies.Create("adakv", KvBudget.Parse("4"), spec, parameters: "scorer=h2o,recent=0.25,floor=0");
        Assert.Equal("h2o", ((AllocationPolicy)policy).Scorer.Name);
        using var cache = new HeadWiseKvCache(spec, policy, CompressMode.Context);
        RunOneShot(cache, spec, context: 20, decode: 0, (h, p) => h == 0 && p is 2 or 4 or 6 ? 20f : 0f);
        // Each head protects its most recent position (floor(4 x 0.25) = 1); the pool of 2 x 3 goes to the six largest
        // sums: head 0's heavy positions (about 7.7, 5.7, 4.7: each later query splits itself over the three) and head 1's
        // 0, 1, 2 (3.6, 2.6, 2.1: sums of 1/(q+1)), not head 1's 3 (1.8) or head 0's 0 (1.5). The floor is 0.
        Assert.Equal(new long[] { 2, 4, 6, 19 }, cache.KeptPositions(0, 0));
        Assert.Equal(new long[] { 0, 1, 2, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void HeadKv_splits_the_pool_by_score_beyond_the_window()
    {
        var spec = Spec();
        var atlas = new HeadScores("test", new() { ["retrieval-reasoning"] = [[4.0, 1.0]] });
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("headkv", KvBudget.Parse("10"), spec, atlas, "window=2,beta=2"), CompressMode.Context);
        RunOneShot(cache, spec, context: 30, decode: 0, (_, _) => 0f);
        // base = 10 - 2 (window) = 8; beta 2 pools 8 // 2 = 4 per head, 8 in all, shared 0.8 / 0.2; each head keeps
        // 8 - 4 + its share + the window: round(6.4 + 4 + 2) = 12 and round(1.6 + 4 + 2) = 8 (total 20 = 2 x 10).
        Assert.Equal(12, cache.Kept(0, 0));
        Assert.Equal(8, cache.Kept(0, 1));
    }

    [Fact]
    public void Duo_keeps_everything_in_full_heads_and_the_trained_sinks_plus_recent_elsewhere_whatever_the_budget()
    {
        var spec = Spec(heads: 4);
        var tsv = Path.Combine(TestPaths.NewTempDir(), "full_attention_heads.tsv");
        new HeadWise.Analysis.DuoPattern([[0.9, 0.1]], Sinks: 2, Recent: 4).Write(tsv);
        // Sparsity 0.75 of 2 heads: ceil(0.75) = 1 streams. The budget (3) plays no part: the pattern keeps 2 + 4.
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("duo", KvBudget.Parse("3"), spec, HeadScores.Load(tsv)), CompressMode.Chunked);
        Run(cache, spec, tokens: 20, prefill: 10, (_, _) => 0f);
        Assert.Equal(Range(0, 20), cache.KeptPositions(0, 0));
        Assert.Equal(new long[] { 0, 1, 16, 17, 18, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void TaskKv_keeps_heterogeneous_heads_full_and_sinks_recent_middle_activations_elsewhere()
    {
        var spec = Spec();
        var atlas = new HeadScores("test", new() { ["heterogeneity"] = [[1.0, 0.0]] });
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("taskkv", KvBudget.Parse("6"), spec, atlas, "full=0.5,sinks=1"), CompressMode.Chunked);
        Run(cache, spec, tokens: 20, prefill: 14, (h, p) => h == 1 && (p == 8 || p == 12) ? 10f : 0f);
        Assert.Equal(Range(0, 20), cache.KeptPositions(0, 0));
        Assert.Equal(new long[] { 0, 8, 12, 17, 18, 19 }, cache.KeptPositions(0, 1));
    }

    [Fact]
    public void Full_keeps_everything()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("full", KvBudget.Parse("1"), spec), CompressMode.Chunked);
        Run(cache, spec, tokens: 15, prefill: 5, (_, _) => 0f);
        Assert.Equal(Range(0, 15), cache.KeptPositions(0, 1));
    }
}
