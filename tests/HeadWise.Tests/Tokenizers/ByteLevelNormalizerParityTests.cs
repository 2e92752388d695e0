using System.Text.Json.Nodes;
using HeadWise.Tests.Fixtures;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Tokenizers;

/// <summary>
/// Byte-level BPE tokenizer.json files with a normalizer, as real checkpoints ship them (Qwen2, Qwen2.5 and Qwen3:
/// NFC; GPT-NeoX and Pythia: NFC; DeepSeek: an empty Sequence): HeadWise gives the ids the Rust Hugging Face
/// tokenizers library gives, on text whose normal forms differ (combining accents, decomposed Hangul, compatibility
/// characters), with a raw-matched special token and an added token matched in normalized text.
/// </summary>
public class ByteLevelNormalizerParityTests
{
    private static readonly Lazy<string> Gpt2Json = new(() => Gpt2TokenizerJson.Write(Path.Combine(TestPaths.NewTempDir("tok"), "tokenizer.json")));

    private static readonly string[] Texts =
    [
        "Cafe\u0301 nai\u0308ve re\u0301sume\u0301, A\u030Angstro\u0308m and \u00C5ngstr\u00F6m.",
        "\u1112\u1161\u11AB\u1100\u116E\u11A8\uC5B4 \uD55C\uAD6D\uC5B4 \u00E9\u00F1 \u212B \u2126",
        "\uFB01ne \uFF46\uFF55\uFF4C\uFF4C width \u2460 x\u00B2 \u210C\u00E9\u0301 \u1E9B\u0323",
        "a<|endoftext|>e\u0301 <|cafe\u0301|> and <|caf\u00E9|>!  \n\n\tMIXED Case \u0130stanbul \u039F\u0394\u039F\u03A3 \u03A3\u039F\u03A6\u039F\u03A3. \u1E9E",
    ];

    [Theory]
    [InlineData("""{"type": "NFC"}""")]
    [InlineData("""{"type": "NFD"}""")]
    [InlineData("""{"type": "NFKC"}""")]
    [InlineData("""{"type": "NFKD"}""")]
    [InlineData("""{"type": "Sequence", "normalizers": []}""")]
    [InlineData("""{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}""")]
    [InlineData("""{"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Strip", "strip_left": true, "strip_right": true}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}]}""")]
    public void A_byte_level_normalizer_gives_the_ids_hugging_face_gives(string normalizer)
    {
        var path = QwenLayout(JsonNode.Parse(normalizer)!);
        var ours = TokenizerJson.Load(path);
        Assert.Equal("gpt2", ours.Kind);
        using var rust = new global::Tokenizers.DotNet.Tokenizer(vocabPath: path);
        foreach (var text in Texts)
            Assert.True(rust.Encode(text).Select(i => (int)i).SequenceEqual(ours.Encode(text, addBos: false)),
                $"{normalizer} on {text}: HF {string.Join(",", rust.Encode(text))} vs ours {string.Join(",", ours.Encode(text, addBos: false))}");
    }

    [Fact]
    public void Nfc_composes_combining_accents_before_the_byte_level_split()
    {
        var ours = TokenizerJson.Load(QwenLayout(new JsonObject { ["type"] = "NFC" }));
        Assert.Equal(ours.Encode("caf\u00E9", addBos: false), ours.Encode("cafe\u0301", addBos: false));
        var plain = TokenizerJson.Load(Gpt2Json.Value);
        Assert.NotEqual(plain.Encode("caf\u00E9", addBos: false), plain.Encode("cafe\u0301", addBos: false));
    }

    /// <summary>GPT-2's vocabulary in Qwen2's layout: the given normalizer, a Split regex then ByteLevel, and an added
    /// token "&lt;|café|&gt;" (decomposed) matched in normalized text next to the raw-matched &lt;|endoftext|&gt;.</summary>
    private static string QwenLayout(JsonNode normalizer)
    {
        var json = JsonNode.Parse(File.ReadAllText(Gpt2Json.Value))!.AsObject();
        json["normalizer"] = normalizer;
        json["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = HfTokenizerJsonWriter.Qwen2Regex }, ["behavior"] = "Isolated", ["invert"] = false },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
        };
        var added = json["added_tokens"]!.AsArray();
        int id = json["model"]!["vocab"]!.AsObject().Count + added.Count;
        added.Add(new JsonObject
        {
            ["id"] = id, ["content"] = "<|cafe\u0301|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = true, ["special"] = false,
        });
        var path = Path.Combine(TestPaths.NewTempDir("tok"), "tokenizer.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }
}
