using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// Issue 23 (Stryker's uncovered mutants): policies' eviction rules called on a layer written by hand, in cases no cache
/// run reaches today (several evictions in one decode step, a head under its capacity beside one over it, a pruned
/// head, head scores that are all zero), each answer read off the rule in the policy's summary.
/// </summary>
public class PolicyEvictionRuleTests
{
    private static HeadView Head(int h, int count, double[]? cumulative = null, double? magnitude = null) => new()
    {
        Layer = 0, Head = h, Count = count, Positions = [.. Enumerable.Range(0, count).Select(i => (long)i)], Cumulative = cumulative,
        OutputMagnitude = magnitude,
    };

    private static LayerView Layer(int step, params HeadView[] heads) =>
        new() { Layer = 0, Length = heads.Max(h => h.Count), BudgetLength = heads.Max(h => h.Count), Step = step, Heads = heads };

    [Fact]
    public void Streaming_evicts_the_oldest_non_sinks_down_to_capacity_and_leaves_a_head_under_it_alone()
    {
        var policy = new StreamingPolicy(Spec(), KvBudget.Parse("5"), sinks: 2);
        // A decode step (step 1) where head 0 holds 3 over its capacity of 5 and head 1 is under it.
        var ev = policy.Evictions(Layer(1, Head(0, 8), Head(1, 4)));
        Assert.Equal([2, 3, 4], ev[0]!.Order());
        Assert.Null(ev[1]);
        // One over: the single oldest non-sink.
        Assert.Equal([2], policy.Evictions(Layer(1, Head(0, 6), Head(1, 5)))[0]);
    }

    [Fact]
    public void SpAtten_evicts_every_slot_of_the_head_it_prunes_and_needs_output_magnitudes_to_prune()
    {
        var spec = Spec();
        var policy = new SpAttenPolicy(spec, KvBudget.Parse("2"), headFraction: 0.5);   // prunes 1 of the 2 KV heads
        double[] attention = [4, 1, 3, 2];
        var ev = policy.Evictions(Layer(4, Head(0, 4, attention, magnitude: 1), Head(1, 4, attention, magnitude: 5)));
        Assert.Equal([0, 1, 2, 3], ev[0]!.Order());   // the weaker output: pruned whole, whatever its budget
        Assert.Equal([1, 3], ev[1]!.Order());         // the other keeps its 2 most attended (slots 0 and 2)
        Assert.True(policy.IsPruned(0, 0));
        Assert.Equal("spatten: the cache did not provide head output magnitudes",
            Assert.Throws<InvalidOperationException>(() => new SpAttenPolicy(spec, KvBudget.Parse("2"), 0.5).Evictions(Layer(4, Head(0, 4, attention), Head(1, 4, attention)))).Message);
    }

    [Fact]
    public void HeadKv_with_no_head_scoring_above_zero_gives_every_head_the_plain_budget()
    {
        var spec = Spec(layers: 2);
        var atlas = new HeadScores("zeros", new() { ["retrieval-reasoning"] = [[0.0, -1.0], [0.0, 0.0]] });
        var policy = KvPolicies.Create("headkv", KvBudget.Parse("8"), spec, atlas, "window=2");
        for (int l = 0; l < 2; l++)
            for (int h = 0; h < 2; h++)
                Assert.Equal(8, policy.Capacity(l, h, 100));
    }
}
