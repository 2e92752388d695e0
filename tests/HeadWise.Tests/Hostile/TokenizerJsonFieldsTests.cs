using System.Text.Json.Nodes;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Hostile;

/// <summary>
/// Acceptance 5: every tokenizer.json field HeadWise reads (<see cref="TokenizerJsonFields.All"/>) is honoured or
/// refused by name. Each field below has a refused value that must fail naming it, or (where no value is refused) a
/// case showing it honoured; the test fails when the table and this list drift apart. Honoured BertNormalizer
/// accents are checked against the Rust Hugging Face tokenizers library.
/// </summary>
public class TokenizerJsonFieldsTests
{
    /// <summary>Field → an edit of the testbed's byte-level tokenizer.json that HeadWise must refuse naming the field.</summary>
    private static readonly Dictionary<string, Action<JsonObject>> Refused = new()
    {
        ["model.type"] = t => t["model"]!["type"] = "Unigram",
        ["model.vocab"] = t => t["model"]!["vocab"]!["hello"] = -3,
        ["model.merges"] = t => t["model"]!["merges"] = 7,
        ["model.dropout"] = t => t["model"]!["dropout"] = 0.1,
        ["model.continuing_subword_prefix"] = t => t["model"]!["continuing_subword_prefix"] = "##",
        ["model.end_of_word_suffix"] = t => t["model"]!["end_of_word_suffix"] = "</w>",
        ["model.ignore_merges"] = t => t["model"]!["ignore_merges"] = "yes",
        ["model.max_input_chars_per_word"] = t => { WordPiece(t, new JsonObject { ["type"] = "BertNormalizer" }); t["model"]!["max_input_chars_per_word"] = 0; },
        ["added_tokens[].id"] = t => t["added_tokens"]![0]!["id"] = "zero",
        ["added_tokens[].content"] = t => t["added_tokens"]![0]!["content"] = 5,
        ["added_tokens[].single_word"] = t => t["added_tokens"]![0]!["single_word"] = true,
        ["added_tokens[].lstrip"] = t => t["added_tokens"]![0]!["lstrip"] = true,
        ["added_tokens[].rstrip"] = t => t["added_tokens"]![0]!["rstrip"] = true,
        ["added_tokens[].normalized"] = t => t["added_tokens"]![0]!["normalized"] = "yes",
        ["normalizer"] = t => t["normalizer"] = new JsonObject { ["type"] = "Precompiled", ["precompiled_charsmap"] = "AAAA" },
        ["pre_tokenizer"] = t => t["pre_tokenizer"] = new JsonObject { ["type"] = "Digits", ["individual_digits"] = true },
        ["pre_tokenizer.add_prefix_space"] = t => t["pre_tokenizer"]!["add_prefix_space"] = true,
        ["pre_tokenizer.pattern"] = t => t["pre_tokenizer"] = Split(new JsonObject { ["Regex"] = "" }),
        ["pre_tokenizer.behavior"] = t => t["pre_tokenizer"] = Split(new JsonObject { ["Regex"] = "\\s+" }, behavior: "Removed"),
        ["pre_tokenizer.invert"] = t => t["pre_tokenizer"] = Split(new JsonObject { ["Regex"] = "\\s+" }, invert: true),
        ["pre_tokenizer.replacement"] = t => t["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "_" },
        ["pre_tokenizer.prepend_scheme"] = t => t["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = "sometimes" },
        ["post_processor"] = t => t["post_processor"] = new JsonObject { ["type"] = "Bogus" },
        ["post_processor.cls"] = t => t["post_processor"] = new JsonObject { ["type"] = "BertProcessing", ["sep"] = new JsonArray("</s>", 1) },
        ["post_processor.sep"] = t => t["post_processor"] = new JsonObject { ["type"] = "BertProcessing", ["cls"] = new JsonArray("<s>", 0) },
        ["post_processor.single"] = t => t["post_processor"]!["single"] = "A",
        ["normalizer.lowercase"] = t => WordPiece(t, new JsonObject { ["type"] = "BertNormalizer", ["lowercase"] = "yes" }),
        ["normalizer.strip_accents"] = t => WordPiece(t, new JsonObject { ["type"] = "BertNormalizer", ["strip_accents"] = 1 }),
        ["normalizer.clean_text"] = t => WordPiece(t, new JsonObject { ["type"] = "BertNormalizer", ["clean_text"] = false }),
        ["normalizer.handle_chinese_chars"] = t => WordPiece(t, new JsonObject { ["type"] = "BertNormalizer", ["handle_chinese_chars"] = false }),
        ["normalizer.normalizers"] = t => t["normalizer"] = new JsonObject { ["type"] = "Sequence" },
        ["normalizer.prepend"] = t => t["normalizer"] = new JsonObject { ["type"] = "Prepend", ["prepend"] = 1 },
        ["normalizer.content"] = t => t["normalizer"] = new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " } },
        ["normalizer.pattern"] = t => t["normalizer"] = new JsonObject { ["type"] = "Replace", ["content"] = "_", ["pattern"] = new JsonObject { ["Regex"] = "" } },
        ["normalizer.strip_left"] = t => t["normalizer"] = new JsonObject { ["type"] = "Strip", ["strip_left"] = "yes" },
        ["normalizer.strip_right"] = t => t["normalizer"] = new JsonObject { ["type"] = "Strip", ["strip_right"] = 0 },
        ["pre_tokenizer.pretokenizers"] = t => t["pre_tokenizer"] = new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = "ByteLevel" },
        ["post_processor.processors"] = t => t["post_processor"] = new JsonObject { ["type"] = "Sequence" },
    };

    /// <summary>Fields with no refused value: where the test suite shows each honoured.</summary>
    private static readonly Dictionary<string, string> HonouredOnly = new()
    {
        ["model.unk_token"] = "Llama_sentencepiece_tokenizer_json_matches_hugging_face_on_moby_dick (<unk> is id 0)",
        ["model.byte_fallback"] = "Llama_sentencepiece_tokenizer_json_matches_hugging_face_on_moby_dick (byte pieces)",
        ["added_tokens[].special"] = "A_special_added_token_is_matched_whole_and_dropped_when_decoding (below)",
        ["pre_tokenizer.use_regex"] = "Gpt2_tokenizer_json_matches_hugging_face_on_moby_dick (GPT-2's split)",
    };

    [Fact]
    public void Every_field_in_the_table_is_tested_as_refused_or_honoured()
    {
        var table = TokenizerJsonFields.All.Select(f => f.Path).ToHashSet();
        var tested = Refused.Keys.Concat(HonouredOnly.Keys).ToHashSet();
        Assert.Empty(table.Except(tested));
        Assert.Empty(tested.Except(table));
    }

    /// <summary>
    /// The table lists every field the readers read: each name passed to a property read in the tokenizer.json readers
    /// (TryGetProperty, Str, Get, Bool, Parts, Items and the flag lists) is the last part of a field in the table, or one
    /// of the few structural keys (a component's type, the model and added_tokens containers, the pattern's kind, a
    /// template's items).
    /// </summary>
    [Fact]
    public void Every_field_the_readers_read_is_in_the_table()
    {
        string[] structural = ["type", "model", "added_tokens", "String", "Regex", "SpecialToken", "Sequence"];
        var listed = TokenizerJsonFields.All.Select(f => f.Path.Split('.')[^1].Replace("[]", "")).Concat(structural).ToHashSet();
        var src = Path.Combine(HeadWise.Tests.Training.TrainConfigValidationTests.RepoRoot(), "src", "HeadWise", "Tokenizers");
        var read = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var file in new[] { "TokenizerJson.cs", "TokenizerJsonFields.cs", "HfNormalizer.cs" })
        {
            var code = File.ReadAllText(Path.Combine(src, file));
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(code,
                         @"\b(?:TryGetProperty|Str|Get|Bool|Parts|Items)\((?:\w+, )?""(\w+)"""))
                read.Add(m.Groups[1].Value);
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(code, @"in new\[\] \{ ([^}]*) \}"))
                foreach (System.Text.RegularExpressions.Match name in System.Text.RegularExpressions.Regex.Matches(m.Groups[1].Value, @"""(\w+)"""))
                    read.Add(name.Groups[1].Value);
        }
        Assert.True(read.Count > 30, $"found only {read.Count} field reads: {string.Join(", ", read)}");
        Assert.Empty(read.Where(r => !listed.Contains(r)));
    }

    public static TheoryData<string> RefusedFields => [.. Refused.Keys];

    [Theory]
    [MemberData(nameof(RefusedFields))]
    public void A_value_headwise_does_not_honour_is_refused_naming_the_field(string field)
    {
        var path = Write(Refused[field]);
        var e = Assert.ThrowsAny<HeadWiseException>(() => TokenizerJson.Load(path));
        var named = field.Replace("[]", "").Split('.')[^1];
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void A_special_added_token_is_matched_whole_and_dropped_when_decoding()
    {
        var tok = TokenizerJson.Load(HostileFiles.Testbed("tokenizer.json"));
        var ids = tok.Encode("a</s>b", addBos: false);
        Assert.Contains(1, ids);
        Assert.Equal("ab", tok.Decode(ids));
    }

    [Theory]
    [InlineData(true, null)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, null)]
    public void Bert_normalizer_lowercase_and_accents_are_honoured_as_hugging_face_does(bool lowercase, bool? stripAccents) =>
        AssertWordPieceMatchesHuggingFace(lowercase, stripAccents, maxInputCharsPerWord: 100, "Café naïve!", "cafe Cafe CAFÉ", "naive café");

    /// <summary>A word longer than max_input_chars_per_word is [UNK] ("naive" and "Cafe!" pieces at 4; whole at 5).</summary>
    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Max_input_chars_per_word_is_honoured_as_hugging_face_does(int max) =>
        AssertWordPieceMatchesHuggingFace(true, null, max, "naive cafe caf!", "Café naïve!");

    private static void AssertWordPieceMatchesHuggingFace(bool lowercase, bool? stripAccents, int maxInputCharsPerWord, params string[] texts)
    {
        var vocab = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "café", "Cafe", "Café", "caf", "##e", "##é", "naive", "naïve", "!" };
        var t = new JsonObject
        {
            ["normalizer"] = new JsonObject { ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = stripAccents, ["lowercase"] = lowercase },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject { ["type"] = "BertProcessing", ["sep"] = new JsonArray("[SEP]", 3), ["cls"] = new JsonArray("[CLS]", 2) },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = maxInputCharsPerWord,
                ["vocab"] = new JsonObject(vocab.Select((v, i) => KeyValuePair.Create(v, (JsonNode?)JsonValue.Create(i)))),
            },
        };
        var path = Path.Combine(TestPaths.NewTempDir("tokfields"), "tokenizer.json");
        File.WriteAllText(path, t.ToJsonString());
        var ours = TokenizerJson.Load(path);
        using var rust = new global::Tokenizers.DotNet.Tokenizer(vocabPath: path);
        foreach (var text in texts)
            Assert.Equal(rust.Encode(text).Select(i => (int)i).ToArray(), ours.Encode(text, addBos: true).ToArray());
    }

    private static JsonObject Split(JsonObject pattern, string behavior = "Isolated", bool invert = false) => new()
    {
        ["type"] = "Split", ["pattern"] = pattern, ["behavior"] = behavior, ["invert"] = invert,
    };

    private static void WordPiece(JsonObject t, JsonObject normalizer)
    {
        t["model"]!["type"] = "WordPiece";
        t["model"]!["continuing_subword_prefix"] = "##";
        t["normalizer"] = normalizer;
        t["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" };
    }

    private static string Write(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(HostileFiles.Testbed("tokenizer.json")))!.AsObject();
        edit(json);
        var path = Path.Combine(TestPaths.NewTempDir("tokfields"), "tokenizer.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }
}
