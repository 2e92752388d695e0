using System.Text.Json;
using System.Text.Json.Nodes;
using HeadWise.Tokenizers;

namespace HeadWise.Training;

/// <summary>The trained byte-level BPE as a Hugging Face tokenizer.json (model BPE, ByteLevel pre-tokenizer and decoder, BOS added).</summary>
internal static class TokenizerJsonWriter
{
    public static string Build(BpeVocabulary v)
    {
        var vocab = new JsonObject();
        for (int i = 0; i < v.Tokens.Length; i++) vocab[v.Tokens[i]] = i;
        var added = new JsonArray();
        for (int i = 0; i < v.Tokens.Length; i++)
            if (v.TokenTypes[i] == (int)TokenType.Control)
                added.Add(new JsonObject
                {
                    ["id"] = i, ["content"] = v.Tokens[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                    ["normalized"] = false, ["special"] = true,
                });
        string bos = v.Tokens[v.BosId];
        JsonObject Special(string id) => new() { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };
        JsonObject Seq(string id) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special(bos), Seq("A")),
                ["pair"] = new JsonArray(Special(bos), Seq("A"), Special(bos), Seq("B")),
                ["special_tokens"] = new JsonObject { [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(v.BosId), ["tokens"] = new JsonArray(bos) } },
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(v.Merges.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }
}
