using HeadWise.Tokenizers;
using Xunit;

namespace HeadWise.Tests.Tokenizers;

/// <summary>Bad vocabularies fail with InvalidModelFileException naming the file and the problem.</summary>
public sealed class TokenizerValidationTests
{
    private static readonly string[] Pieces = ["<unk>", "<s>", "</s>", "▁a", "b"];
    private static readonly float[] Scores = [0, 0, 0, -1, -2];

    private static Dictionary<string, object> LlamaMeta() => new()
    {
        ["tokenizer.ggml.model"] = "llama", ["tokenizer.ggml.tokens"] = Pieces, ["tokenizer.ggml.scores"] = Scores,
        ["tokenizer.ggml.token_type"] = new[] { 2, 3, 3, 1, 1 }, ["tokenizer.ggml.bos_token_id"] = 1u,
        ["tokenizer.ggml.eos_token_id"] = 2u, ["tokenizer.ggml.unknown_token_id"] = 0u, ["tokenizer.ggml.add_bos_token"] = true,
    };

    private static InvalidModelFileException Fails(Action a, params string[] fragments)
    {
        var e = Assert.Throws<InvalidModelFileException>(a);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
        return e;
    }

    [Fact]
    public void ValidSmallLlamaVocabularyWorks()
    {
        var t = TokenizerFactory.FromGgufMetadata(LlamaMeta(), "m.gguf");
        Assert.Equal([1, 3, 4], t.Encode("ab", addBos: true));
        Assert.Equal("ab", t.Decode([1, 3, 4]));
    }

    [Fact]
    public void MismatchedArrayLengths()
    {
        Fails(() => new SentencePieceBpeTokenizer(Pieces, [0, 0], null, 1, 2, 0, source: "x.gguf"), "x.gguf", "score", "2 entries", "5 tokens");
        Fails(() => new SentencePieceBpeTokenizer(Pieces, Scores, [1, 1], 1, 2, 0), "token type", "2 entries");
        var meta = LlamaMeta();
        meta["tokenizer.ggml.scores"] = new float[7];
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "m.gguf"), "m.gguf", "score list has 7 entries");
        Fails(() => new ByteLevelBpeTokenizer(["a", "b"], [], [1], null, null), "token type list has 1 entries");
    }

    [Fact]
    public void IdsOutOfRange()
    {
        var meta = LlamaMeta();
        meta["tokenizer.ggml.bos_token_id"] = 5u;
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "m.gguf"), "m.gguf", "BOS id 5", "outside the vocabulary");
        Fails(() => new SentencePieceBpeTokenizer(Pieces, Scores, null, 1, 99, 0), "EOS id 99");
        Fails(() => new SentencePieceBpeTokenizer(Pieces, Scores, null, 1, 2, -1), "unknown-token id -1");
        Fails(() => new ByteLevelBpeTokenizer(["a", "b"], [], null, 2, null), "BOS id 2");
        Fails(() => new SentencePieceBpeTokenizer(Pieces, Scores, [2, 3, 3, 9, 1], 1, 2, 0), "token type 9");
    }

    [Fact]
    public void UnsupportedOrMissingModel()
    {
        var meta = LlamaMeta();
        meta["tokenizer.ggml.model"] = "bert";
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "m.gguf"), "m.gguf", "'bert'", "not supported");
        meta.Remove("tokenizer.ggml.model");
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "m.gguf"), "tokenizer.ggml.model is missing");
        meta = LlamaMeta();
        meta.Remove("tokenizer.ggml.tokens");
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "m.gguf"), "tokenizer.ggml.tokens is missing");
    }

    [Fact]
    public void WrongValueTypes()
    {
        var meta = LlamaMeta();
        meta["tokenizer.ggml.tokens"] = new[] { 1, 2, 3 };
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "m.gguf"), "tokenizer.ggml.tokens should be an array of strings");
        meta = LlamaMeta();
        meta["tokenizer.ggml.bos_token_id"] = "one";
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "m.gguf"), "tokenizer.ggml.bos_token_id should be an integer");
    }

    [Fact]
    public void Gpt2Problems()
    {
        var meta = new Dictionary<string, object> { ["tokenizer.ggml.model"] = "gpt2", ["tokenizer.ggml.tokens"] = new[] { "a", "b", "ab" } };
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "g.gguf"), "tokenizer.ggml.merges is missing");
        meta["tokenizer.ggml.merges"] = new[] { "a b" };
        meta["tokenizer.ggml.pre"] = "deepseek-coder";
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "g.gguf"), "\"deepseek-coder\"", "pre-tokenizer");
        meta["tokenizer.ggml.merges"] = new[] { "ab" };
        meta["tokenizer.ggml.pre"] = "gpt2";
        Fails(() => TokenizerFactory.FromGgufMetadata(meta, "g.gguf"), "merge 0");
    }

    [Fact]
    public void BrokenBytePiecesAndLlama2cFiles()
    {
        string[] pieces = ["<unk>", "<s>", "</s>", "<0x00>", "<0x02>"];
        Fails(() => new SentencePieceBpeTokenizer(pieces, new float[5], null, 1, 2, 0), "byte pieces");

        // A second "<0x00>" after the run (a fuzz finding, CI 2026-11-30): it took the piece's text, so byte fallback
        // produced ids past the vocabulary at encode time. Refused at load instead.
        string[] twice = ["<unk>", "<s>", "</s>", .. Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>"), "a", "<0x00>"];
        Fails(() => new SentencePieceBpeTokenizer(twice, new float[twice.Length], null, 1, 2, 0), "byte piece <0x00> appears twice", "tokens 3 and 260");

        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "tok.bin");
        var good = File.ReadAllBytes(TestPaths.Stories260KTokenizerBin);
        File.WriteAllBytes(path, good[..(good.Length - 3)]);
        Fails(() => TokenizerFactory.FromLlama2cFile(path), path, "token 511");
        Directory.Delete(dir, true);
    }
}
