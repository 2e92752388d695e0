using HeadWise.Eval;
using HeadWise.Models;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Eval;

/// <summary>Acceptance 1: answer once, at the requested depth, requested length, reproducible.</summary>
public sealed class TaskGeneratorTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));
    private static ITokenizer Tok => Stories.Value.Tokenizer;

    private static TaskOptions Options(params int[] lengths) => new()
    {
        Lengths = lengths, Depths = [0, 0.25, 0.5, 1], Samples = 2, Seed = 7, HaystackPath = TestPaths.MobyDick,
    };

    [Theory]
    [InlineData("passkey")]
    [InlineData("niah")]
    [InlineData("multikey")]
    public void NeedleIsOnceAtItsDepthAndPromptHasItsLength(string name)
    {
        var task = TaskRegistry.Create(name);
        var samples = task.Generate(Tok, Options(600, 1500));
        Assert.Equal(2 * 4 * 2, samples.Count);
        foreach (var s in samples)
        {
            Assert.InRange(s.Tokens.Length, s.Length * 0.98, s.Length * 1.02);
            var text = Tok.Decode(s.Tokens);
            Assert.Equal(1, CountOf(text, s.Answer!));
            // Find the answer's needle independently: the token position where the decoded prefix first contains the answer.
            int at = FirstTokenCovering(s.Tokens, s.Answer!);
            Assert.InRange(at, s.HaystackStart, s.HaystackEnd);
            int hayLen = s.HaystackEnd - s.HaystackStart;
            double want = s.Depth!.Value * hayLen;
            Assert.True(Math.Abs(s.NeedleStart - s.HaystackStart - want) <= s.MaxSentenceTokens + s.NeedleTokens,
                $"{name} depth {s.Depth}: needle at {s.NeedleStart - s.HaystackStart} of {hayLen}, sentence <= {s.MaxSentenceTokens}");
            Assert.InRange(at - s.NeedleStart, 0, 80); // the answer lies inside the asked needle
        }
    }

    [Theory]
    [InlineData("passkey")]
    [InlineData("niah")]
    [InlineData("multikey")]
    [InlineData("copy")]
    [InlineData("perplexity")]
    public void SameSeedSamePromptsOtherSeedOtherPrompts(string name)
    {
        var a = TaskRegistry.Create(name).Generate(Tok, Options(700));
        var b = TaskRegistry.Create(name).Generate(Tok, Options(700));
        var c = TaskRegistry.Create(name).Generate(Tok, Options(700) with { Seed = 8 });
        Assert.Equal(a.Select(s => s.Tokens), b.Select(s => s.Tokens));
        Assert.NotEqual(a.Select(s => s.Tokens), c.Select(s => s.Tokens));
        foreach (var s in a) Assert.InRange(s.Tokens.Length, 686, 714);
    }

    [Fact]
    public void CopyRepeatsTheSequenceAndShuffledPermutesIt()
    {
        var o = Options(401) with { Samples = 1 };
        var copy = TaskRegistry.Create("copy").Generate(Tok, o)[0];
        var shuf = TaskRegistry.Create("copy-shuffled").Generate(Tok, o)[0];
        Assert.Equal(401, copy.Tokens.Length);
        Assert.Equal(Tok.BosId, copy.Tokens[0]);
        Assert.Equal(201, copy.ScoredFrom);
        Assert.Equal(copy.Tokens[1..201], copy.Tokens[201..]);
        Assert.Equal(copy.Tokens[1..201].Order(), shuf.Tokens[201..].Order());
        Assert.NotEqual(shuf.Tokens[1..201], shuf.Tokens[201..]);
    }

    private static int CountOf(string text, string s)
    {
        int n = 0;
        for (int i = text.IndexOf(s, StringComparison.Ordinal); i >= 0; i = text.IndexOf(s, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    private static int FirstTokenCovering(int[] tokens, string answer)
    {
        int lo = 1, hi = tokens.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (Tok.Decode(tokens[..mid]).Contains(answer, StringComparison.Ordinal)) hi = mid; else lo = mid + 1;
        }
        return lo - 1;
    }
}
