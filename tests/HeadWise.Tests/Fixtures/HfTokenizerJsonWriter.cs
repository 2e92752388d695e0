using System.Text.Json;
using System.Text.Json.Nodes;

namespace HeadWise.Tests.Fixtures;

/// <summary>
/// Writes tokenizer.json files laid out as the Hugging Face tokenizers library writes them for GPT-2, Qwen2, Llama-3
/// (byte-level BPE) and Llama-2/Mistral (SentencePiece-style BPE with byte fallback).
/// </summary>
public static class HfTokenizerJsonWriter
{
    public const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <param name="style">"gpt2" (ByteLevel pre-tokenizer with its regex), "qwen2" or "llama3" (Split regex + ByteLevel).</param>
    /// <param name="bos">A special token the post-processor puts first (Llama-3's &lt;|begin_of_text|&gt;), or null.</param>
    public static void ByteLevel(string path, IReadOnlyList<string> vocab, IReadOnlyList<string> merges, IReadOnlyList<string> specials, string style, string? bos = null)
    {
        var v = new JsonObject();
        for (int i = 0; i < vocab.Count; i++) v[vocab[i]] = i;
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = style == "gpt2" };
        JsonNode pre = style == "gpt2" ? byteLevel.DeepClone() : new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = style == "qwen2" ? Qwen2Regex : Llama3Regex }, ["behavior"] = "Isolated", ["invert"] = false },
                byteLevel.DeepClone()),
        };
        JsonNode post = bos is null ? byteLevel.DeepClone() : new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
                new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            ["pair"] = new JsonArray(),
            ["special_tokens"] = new JsonObject { [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(vocab.Count + specials.ToList().IndexOf(bos)), ["tokens"] = new JsonArray(bos) } },
        };
        var model = new JsonObject
        {
            ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
            ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = style == "llama3",
            ["vocab"] = v, ["merges"] = new JsonArray(merges.Select(m => (JsonNode)m).ToArray()),
        };
        Save(path, Added(specials, vocab.Count), null, pre, post, new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true }, model);
    }

    /// <summary>Llama-2 layout: Prepend/Replace normalizer, no pre-tokenizer, BPE with byte_fallback, &lt;s&gt; prepended.</summary>
    public static void SentencePiece(string path, IReadOnlyList<string> pieces, IReadOnlyList<int> types, IReadOnlyList<string> merges)
    {
        var v = new JsonObject();
        for (int i = 0; i < pieces.Count; i++) v[pieces[i]] = i;
        var added = new JsonArray();
        for (int i = 0; i < pieces.Count; i++)
            if (types[i] is 2 or 3)
                added.Add(new JsonObject { ["id"] = i, ["content"] = pieces[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
        var normalizer = new JsonObject
        {
            ["type"] = "Sequence",
            ["normalizers"] = new JsonArray(new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
        };
        var post = new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
                new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            ["pair"] = new JsonArray(),
            ["special_tokens"] = new JsonObject { ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<s>") } },
        };
        var decoder = new JsonObject
        {
            ["type"] = "Sequence",
            ["decoders"] = new JsonArray(
                new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
                new JsonObject { ["type"] = "ByteFallback" }, new JsonObject { ["type"] = "Fuse" },
                new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
        };
        var model = new JsonObject
        {
            ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = "<unk>", ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
            ["fuse_unk"] = true, ["byte_fallback"] = true, ["ignore_merges"] = false,
            ["vocab"] = v, ["merges"] = new JsonArray(merges.Select(m => (JsonNode)m).ToArray()),
        };
        Save(path, added, normalizer, null, post, decoder, model);
    }

    /// <summary>
    /// Merges for a SentencePiece vocabulary, as transformers' SentencePieceExtractor derives them: every split of a
    /// normal piece into two pieces of the vocabulary, ordered by the merged piece's score, then by the parts' ids.
    /// </summary>
    public static List<string> SentencePieceMerges(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<int> types)
    {
        var id = new Dictionary<string, int>();
        for (int i = 0; i < pieces.Count; i++) if (types[i] == 1) id.TryAdd(pieces[i], i);
        var merges = new List<(string L, string R, float Score, int Id)>();
        foreach (var (piece, pid) in id)
        {
            var local = new List<(string, string, float, int)>();
            for (int k = 1; k < piece.Length; k++)
            {
                string l = piece[..k], r = piece[k..];
                if (id.ContainsKey(l) && id.ContainsKey(r)) local.Add((l, r, scores[pid], pid));
            }
            merges.AddRange(local.OrderBy(x => id[x.Item1]).ThenBy(x => id[x.Item2]));
        }
        return merges.Select((m, i) => (m, i)).OrderByDescending(x => x.m.Score).ThenBy(x => x.i).Select(x => $"{x.m.L} {x.m.R}").ToList();
    }

    private static JsonArray Added(IReadOnlyList<string> specials, int firstId) =>
        new(specials.Select((s, i) => (JsonNode)new JsonObject
        {
            ["id"] = firstId + i, ["content"] = s, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
        }).ToArray());

    private static void Save(string path, JsonArray added, JsonNode? normalizer, JsonNode? pre, JsonNode? post, JsonNode decoder, JsonNode model)
    {
        var root = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added,
            ["normalizer"] = normalizer, ["pre_tokenizer"] = pre, ["post_processor"] = post, ["decoder"] = decoder, ["model"] = model,
        };
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }
}
