using HeadWise.Analysis;
using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using HeadWise.Models;
using TorchSharp;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// Issue 23 (Stryker's survivors in KvCache): the eviction ranking's tie rule on both of its paths, the lengths each
/// policy and cache let a model run, a budget's rounding at a ratio whose product is not exact, and the duo heads
/// listed as full. Expected values are worked out by hand in the comments.
/// </summary>
public class RankingAndLimitTests
{
    [Fact]
    public void Lowest_takes_the_smallest_values_and_breaks_ties_by_the_earlier_index_on_both_paths()
    {
        double[] few = [3, 1, 1, 2, 1, 0];
        // Linear path (m <= 4): 0 at 5, then the 1s in index order.
        Assert.Equal([5, 1, 2], Ranking.Lowest(few, 6, 3));
        Assert.Equal([5, 1, 2, 4], Ranking.Lowest(few, 6, 4));
        Assert.Empty(Ranking.Lowest(few, 6, 0));
        Assert.Equal([0, 1, 2], Ranking.Lowest(few, 3, 5));   // m >= count: every index
        // Only the first `count` values take part.
        Assert.Equal([1, 2], Ranking.Lowest(few, 4, 2));

        // Sorting path (m > 4): 40 values in 4 tie classes; value v = (7 i) mod 4, so each class lists its indices ascending.
        var many = Enumerable.Range(0, 40).Select(i => (double)(7 * i % 4)).ToArray();
        var expected = Enumerable.Range(0, 40).Where(i => many[i] == 0).Concat(Enumerable.Range(0, 40).Where(i => many[i] == 1)).Take(15).ToArray();
        Assert.Equal([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 3, 7, 11, 15, 19], expected);
        Assert.Equal(expected, Ranking.Lowest(many, 40, 15));
    }

    [Fact]
    public void Each_policy_and_cache_states_the_longest_sequence_it_runs()
    {
        var rope = Spec(layers: 2, context: 64);
        var learned = rope with { Positions = PositionKind.Learned };
        var streaming = KvPolicies.Create("streaming", KvBudget.Parse("8"), rope);
        Assert.Equal(64, streaming.MaxLength);
        Assert.Equal(64, streaming.LengthLimit);
        var longheads = KvPolicies.Create("longheads", KvBudget.All, rope, parameters: "chunk=4,window=16");
        Assert.Equal(int.MaxValue, longheads.MaxLength);
        Assert.Equal(int.MaxValue, longheads.LengthLimit);
        // Learned positions cannot extend, whatever the policy would allow.
        Assert.Equal(64, KvPolicies.Create("longheads", KvBudget.All, learned, parameters: "chunk=4,window=16").LengthLimit);

        using (var c = new HeadWiseKvCache(rope, streaming, CompressMode.Chunked)) Assert.Equal(64, c.MaxLength);
        using (var c = (LongHeadsKvCache)longheads.CreateCache(CompressMode.Context)) Assert.Equal(int.MaxValue, c.MaxLength);

        // DELTA keeps everything in a full cache and reports its numbers: 2 layers x 2 KV heads x 3 rows x 4 dims x 2 (K, V) x 4 bytes.
        var delta = new DeltaPolicy(Spec(layers: 3, context: 64), KvBudget.Parse("8"), 0, 1, 1, 0.25);
        using var dc = (DeltaKvCache)delta.CreateCache(CompressMode.Context);
        Assert.Equal(64, dc.MaxLength);
        var (q, k, v) = Step(delta.Spec, 0, 3, (_, _) => 1f);
        using var scale = 0.5.ToScalar();
        for (int l = 0; l < 3; l++) dc.Attend(l, q, k, v, new AttentionKernel(delta.Spec, null, scale, null, 0));
        dc.Advance(3);
        Assert.Equal(3, dc.Length);
        Assert.Equal(3 * 2 * 3 * 4 * 2 * 4, dc.Bytes);
        Assert.Equal(dc.Bytes, dc.PeakBytes);
    }

    [Fact]
    public void A_ratio_budget_rounds_up_only_past_floating_point_noise_and_means_over_heads()
    {
        // 0.07 x 100 is 7.000000000000001 in doubles (7 tokens, not 8); 0.1 x 30 is exactly 3.0 (3, not 4).
        Assert.Equal(7, KvBudget.Model(0.07).Tokens(0, 0, 100));
        Assert.Equal(3, KvBudget.Model(0.1).Tokens(0, 0, 30));
        Assert.Equal(3, KvBudget.Model(0.25).Tokens(0, 0, 9));   // 2.25 rounds up
        Assert.Equal(512, KvBudget.Model(512).Tokens(0, 0, 1000));
        Assert.Equal("512", KvBudget.Model(512).Text);
        Assert.Equal(0, KvBudget.Model(512).Tokens(0, 0, 0));    // never more than the sequence
        Assert.Equal(1, KvBudget.Model(0.01).Tokens(0, 0, 5));   // at least one position of a non-empty sequence
        // Per head 2, 4 | 6, 8 on 2 layers x 2 KV heads: mean 5; at length 5 the 6 and 8 clamp to 5: (2 + 4 + 5 + 5) / 4.
        var spec = Spec(layers: 2);
        var budget = KvBudget.Parse("2,4;6,8").Validate(spec);
        Assert.Equal(5.0, budget.MeanTokens(spec, 100));
        Assert.Equal(4.0, budget.MeanTokens(spec, 5));
    }

    [Fact]
    public void Duo_lists_its_full_heads_in_layer_then_head_order()
    {
        var spec = Spec(layers: 3);
        var pattern = new DuoPattern([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]], Sinks: 2, Recent: 4);
        var duo = new DuoPolicy(spec, KvBudget.Parse("8"), pattern, threshold: 0.6);
        Assert.Equal([(0, 0), (1, 1), (2, 0), (2, 1)], duo.FullHeads().ToArray());
    }
}
