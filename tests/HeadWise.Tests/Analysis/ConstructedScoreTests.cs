using HeadWise.Analysis;
using HeadWise.Analysis.Scores;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// Scores run whole (prompts, decoding, captures) on <see cref="ConstructedHeads"/>, whose heads' jobs are known: the answer
/// each score must give holds by construction.
/// </summary>
public sealed class ConstructedScoreTests
{
    private static ProfileContext Context(int documents = 3, int length = 32)
    {
        var tok = new CharTokenizer(words: documents * (length - 1));
        return new ProfileContext(ConstructedHeads.Build(tok), tok, ConstructedHeads.Probes(tok, documents, length), seed: 1);
    }

    [Fact]
    public void QkSelectRanksTheSelectAndCopyHeadFirstAndOnlyItPicksTheRightOption()
    {
        using var ctx = Context();
        var map = new QkSelectScore(prompts: 12).Compute(ctx).Single();
        Assert.Equal(1.0, map[ConstructedHeads.Copy.Layer, ConstructedHeads.Copy.Head], 9);
        Assert.Equal(ConstructedHeads.Copy, map.Ranked()[0]);
        // Every other head sees equal keys at the four options (zero or the same mark): chance at best, never all right.
        Assert.All(map.Ranked().Skip(1), h => Assert.True(map[h.Layer, h.Head] < 0.5, $"head {h} scored {map[h.Layer, h.Head]}"));
    }

    /// <summary>The duplicate head's top key lies in the needle but holds the previous token: the token rule must reject it.</summary>
    [Fact]
    public void RetrievalScoresOneForTheCopyHeadAndZeroForEveryOtherHead()
    {
        using var ctx = Context();
        var map = new RetrievalScore(prompts: 4).Compute(ctx).Single();
        Assert.Equal(4, map.Params!["prompts_answered"]!.GetValue<int>());
        foreach (var (l, h) in map.Ranked())
            Assert.Equal((l, h) == ConstructedHeads.Copy ? 1.0 : 0.0, map[l, h], 9);
    }

    [Fact]
    public void RetrievalReasoningRanksTheCopyHeadFirstAndCountsTheDuplicateHeadsNeedleAttention()
    {
        using var ctx = Context();
        var map = new RetrievalReasoningScore(prompts: 4).Compute(ctx).Single();
        Assert.Equal(4, map.Params!["prompts_answered"]!.GetValue<int>());
        Assert.Equal(ConstructedHeads.Copy, map.Ranked()[0]);
        Assert.True(map[ConstructedHeads.Copy.Layer, ConstructedHeads.Copy.Head] > 0.99);
        // The duplicate head puts about 60% of its attention on the needle's copy of the previous token (no token rule here), the
        // sink and local heads none; idle heads spread theirs uniformly, so at most the needle's share of the keys.
        Assert.InRange(map[ConstructedHeads.Duplicate.Layer, ConstructedHeads.Duplicate.Head], 0.55, 0.65);
        Assert.Equal(0.0, map[ConstructedHeads.Sink.Layer, ConstructedHeads.Sink.Head], 6);
        Assert.Equal(0.0, map[ConstructedHeads.Local.Layer, ConstructedHeads.Local.Head], 6);
        Assert.All(map.Flat(), v => Assert.True(v <= 0.65 || v > 0.99));
    }
}
