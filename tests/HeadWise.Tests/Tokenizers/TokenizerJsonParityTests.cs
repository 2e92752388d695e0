using HeadWise.Formats.Gguf;
using HeadWise.Tests.Fixtures;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Tokenizers;

/// <summary>
/// Acceptance 3: on the whole of Moby-Dick, HeadWise's tokenizer.json tokenizers give the ids the Rust Hugging Face
/// tokenizers library (Tokenizers.DotNet) gives, and decode(encode(text)) is the text.
/// </summary>
public class TokenizerJsonParityTests
{
    private static readonly Lazy<string> MobyDick = new(() => File.ReadAllText(TestPaths.MobyDick));

    [Fact]
    public void Gpt2_tokenizer_json_matches_hugging_face_on_moby_dick()
    {
        var path = Gpt2TokenizerJson.Write(Path.Combine(TestPaths.NewTempDir("tok"), "tokenizer.json"));
        var ours = TokenizerJson.Load(path);
        Assert.Equal("gpt2", ours.Kind);
        Assert.Equal(50257, ours.VocabSize);
        AssertSameIdsAndRoundTrip(path, ours, MobyDick.Value);
        Assert.Equal(new[] { 15496, 995 }, ours.Encode("Hello world", addBos: false));  // GPT-2's published ids
    }

    [Fact]
    public void Llama_sentencepiece_tokenizer_json_matches_hugging_face_on_moby_dick()
    {
        // stories260K's 512-piece SentencePiece vocabulary, written the way transformers converts Llama-2 tokenizers.
        using var gguf = GgufFile.Open(TestPaths.Stories260KGguf);
        var pieces = gguf.GetArray<string>("tokenizer.ggml.tokens");
        var scores = gguf.GetArray<float>("tokenizer.ggml.scores");
        var types = gguf.GetArray<int>("tokenizer.ggml.token_type");
        var path = Path.Combine(TestPaths.NewTempDir("tok"), "tokenizer.json");
        HfTokenizerJsonWriter.SentencePiece(path, pieces, types, HfTokenizerJsonWriter.SentencePieceMerges(pieces, scores, types));
        var ours = TokenizerJson.Load(path);
        Assert.Equal("llama", ours.Kind);
        Assert.Equal((1, 2), (ours.BosId, ours.EosId));
        Assert.True(ours.AddBosByDefault);
        AssertSameIdsAndRoundTrip(path, ours, MobyDick.Value);
    }

    [Fact]
    public void Unsupported_model_type_is_a_clear_error()
    {
        var path = Path.Combine(TestPaths.NewTempDir("tok"), "tokenizer.json");
        File.WriteAllText(path, """{"model": {"type": "Unigram", "vocab": {"a": 0}}}""");
        var e = Assert.Throws<InvalidModelFileException>(() => TokenizerJson.Load(path));
        Assert.Contains("Unigram", e.Message);
    }

    /// <summary>The Rust tokenizers' ids for <paramref name="text"/> from the file at <paramref name="path"/> are ours, and ours decode back to the text.</summary>
    internal static void AssertSameIdsAndRoundTrip(string path, ITokenizer ours, string text)
    {
        using var rust = new global::Tokenizers.DotNet.Tokenizer(vocabPath: path);
        var expected = rust.Encode(text).Select(i => (int)i).ToArray();
        bool rustAddedBos = ours.BosId is int bos && expected.Length > 0 && expected[0] == bos && ours.AddBosByDefault;
        var actual = ours.Encode(text, addBos: rustAddedBos);
        Assert.True(expected.Length > 100_000, $"only {expected.Length} tokens");
        int first = Enumerable.Range(0, Math.Min(expected.Length, actual.Count)).FirstOrDefault(i => expected[i] != actual[i], -1);
        Assert.True(first < 0 && expected.Length == actual.Count,
            $"ids differ at {first} of {expected.Length}/{actual.Count}: HF {string.Join(",", expected.Skip(Math.Max(0, first - 3)).Take(8))} vs ours {string.Join(",", actual.Skip(Math.Max(0, first - 3)).Take(8))}");
        Assert.Equal(text, ours.Decode(actual));
    }
}
