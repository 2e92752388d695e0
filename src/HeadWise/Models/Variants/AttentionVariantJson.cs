using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace HeadWise.Models.Variants;

/// <summary>
/// The variant as JSON, the same in a training config ("attention": {..}) and in an exported config.json
/// ("headwise_attention": {..}): {"kind": "moh", "shared_heads": 2, "top_k": 2}, snake_case, unknown fields refused.
/// </summary>
public static class AttentionVariantJson
{
    /// <summary>The config.json field a Hugging Face export records the switch in.</summary>
    public const string ConfigField = "headwise_attention";

    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowOutOfOrderMetadataProperties = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static JsonNode ToNode(AttentionVariant v) => JsonSerializer.SerializeToNode(v, Options)!;

    /// <summary>Reads config.json's field, or null when absent; a bad value is one error naming the field and the kinds.</summary>
    public static AttentionVariant? Read(JsonElement root, string source)
    {
        if (!root.TryGetProperty(ConfigField, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        try { return JsonSerializer.Deserialize<AttentionVariant>(e, Options) ?? throw new JsonException("null"); }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            throw new InvalidModelFileException(source, $"field '{ConfigField}': {ex.Message} (kinds: {string.Join(", ", AttentionVariant.Kinds)})");
        }
    }
}
