using Microsoft.ML.Tokenizers;
using Xunit;
using Xunit.Abstractions;

namespace HeadWise.Tests.Tokenizers;

[CollectionDefinition(nameof(TokenizerSpeedTests), DisableParallelization = true)]
public sealed class TokenizerSpeedCollection;

/// <summary>
/// Encoding speed relative to Microsoft.ML.Tokenizers' own tokenizers on the same text. The CPUs are shared, so
/// absolute rates mean little: runs alternate between the two sides and the best of each counts, and the tests run
/// alone (no parallel test classes).
/// </summary>
[Collection(nameof(TokenizerSpeedTests))]
public sealed class TokenizerSpeedTests(ITestOutputHelper output)
{
    [Fact]
    public void SentencePieceIsAsFastAsMicrosoftMlTokenizers()
    {
        var text = string.Join("\n\n", TokenizerTestTexts.MobyDickParagraphs(400));
        using var stream = File.OpenRead(TestPaths.Stories260KSentencePiece);
        var reference = LlamaTokenizer.Create(stream);
        var ours = SentencePieceBpeTokenizerTests.Gguf.Value;
        var (oursSeconds, referenceSeconds) = BestOfAlternating(() => ours.Encode(text, false), () => reference.EncodeToIds(text));
        output.WriteLine($"SentencePiece: ours {oursSeconds:F3}s, Microsoft.ML.Tokenizers {referenceSeconds:F3}s, {ours.Encode(text, false).Count} tokens");
        Assert.True(oursSeconds < 3 * referenceSeconds + 0.05, $"ours {oursSeconds:F3}s, Microsoft.ML.Tokenizers {referenceSeconds:F3}s");

        // Linear in the text length: a quarter of the text takes about a quarter of the time.
        var quarter = text[..(text.Length / 4)];
        var (full, part) = BestOfAlternating(() => ours.Encode(text, false), () => ours.Encode(quarter, false));
        Assert.True(full < 8 * part + 0.05, $"full {full:F3}s vs quarter {part:F3}s");
    }

    [Fact]
    public void ByteLevelBpeIsAsFastAsTiktoken()
    {
        var (tiktoken, ours) = ByteLevelBpeTokenizerTests.Gpt2.Value;
        var text = File.ReadAllText(TestPaths.MobyDick);
        var (oursSeconds, tiktokenSeconds) = BestOfAlternating(() => ours.Encode(text, false), () => tiktoken.EncodeToIds(text));
        output.WriteLine($"byte-level BPE: ours {oursSeconds:F3}s, tiktoken {tiktokenSeconds:F3}s, {ours.Encode(text, false).Count} tokens");
        Assert.True(oursSeconds < 5 * tiktokenSeconds + 0.05, $"ours {oursSeconds:F3}s, tiktoken {tiktokenSeconds:F3}s");
    }

    private static (double A, double B) BestOfAlternating(Action a, Action b, int rounds = 4)
    {
        a(); b();
        double bestA = double.MaxValue, bestB = double.MaxValue;
        for (int i = 0; i < rounds; i++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            a();
            bestA = Math.Min(bestA, sw.Elapsed.TotalSeconds);
            sw.Restart();
            b();
            bestB = Math.Min(bestB, sw.Elapsed.TotalSeconds);
        }
        return (bestA, bestB);
    }
}
