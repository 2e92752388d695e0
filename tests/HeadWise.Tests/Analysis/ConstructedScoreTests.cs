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
}
