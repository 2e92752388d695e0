using System.Text.Json;

namespace HeadWise.Formats.HuggingFace;

/// <summary>
/// generation_config.json: the BOS and EOS ids transformers generates with. They override the tokenizer's (a
/// tokenizer.json often names no EOS: TinyStories-656K's post-processor adds only BOS). A list of EOS ids
/// (Llama 3 instruct) gives its first as the EOS; HeadWise stops on one id.
/// </summary>
public sealed record HfGenerationConfig(int? BosId, int? EosId)
{
    public static HfGenerationConfig? Read(string directory)
    {
        var path = Path.Combine(directory, "generation_config.json");
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(path, "must be a JSON object");
            return new HfGenerationConfig(Id(doc.RootElement, "bos_token_id", path), Id(doc.RootElement, "eos_token_id", path));
        }
        catch (JsonException e) { throw new InvalidModelFileException(path, $"not valid JSON: {e.Message}"); }
    }

    private static int? Id(JsonElement root, string field, string path)
    {
        if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        var first = v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().FirstOrDefault() : v;
        if (first.ValueKind == JsonValueKind.Undefined) return null;
        if (first.ValueKind != JsonValueKind.Number || !first.TryGetInt32(out var id) || id < 0)
            throw new InvalidModelFileException(path, $"field '{field}' must be a token id or a list of them (found {v.GetRawText()})");
        return id;
    }
}
