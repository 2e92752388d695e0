using System.Text.Json;
using System.Text.Json.Nodes;

namespace HeadWise.Analysis;

/// <summary>
/// Every score of one model, read and written as atlas.json:
/// {"model": ..., "layers": L, "heads": H, "kv_heads": K, "scores": {"name": [[per head] per layer]}, "params": {...}}.
/// params holds each score's parameters by name, the seed and probe set, and "skipped" (score → why it did not run).
/// </summary>
public sealed class HeadAtlas
{
    public required string Model { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public Dictionary<string, double[][]> Scores { get; } = [];
    public JsonObject Params { get; init; } = [];

    public void Add(HeadMap map)
    {
        if (map.Layers != Layers || map.Heads != Heads)
            throw new HeadWiseException($"score '{map.Name}' is {map.Layers} x {map.Heads} but the atlas is {Layers} layers x {Heads} heads");
        Scores[map.Name] = map.Values;
        Params[map.Name] = map.Params?.DeepClone() ?? new JsonObject();
    }

    public HeadMap this[string name] => Scores.TryGetValue(name, out var v)
        ? new HeadMap(name, v, Params[name] as JsonObject)
        : throw new HeadWiseException($"the atlas has no score '{name}'; it has: {string.Join(", ", Scores.Keys)}");

    public JsonObject Skipped => Params["skipped"] as JsonObject ?? (JsonObject)(Params["skipped"] = new JsonObject());

    public void Save(string path)
    {
        var root = new JsonObject
        {
            ["model"] = Model, ["layers"] = Layers, ["heads"] = Heads, ["kv_heads"] = KvHeads,
            ["scores"] = new JsonObject(Scores.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonArray(
                kv.Value.Select(r => (JsonNode)new JsonArray(r.Select(v => (JsonNode)(double.IsFinite(v) ? v : 0)).ToArray())).ToArray())))),
            ["params"] = Params.DeepClone(),
        };
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    public static HeadAtlas Load(string path)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new HeadWiseException($"{path}: not valid JSON ({e.Message})"); }
        if (root is not JsonObject o) throw new HeadWiseException($"{path}: expected a JSON object at the top");
        int Int(string field) => o[field] is JsonValue v && v.TryGetValue(out int x) && x > 0 ? x
            : throw new HeadWiseException($"{path}: field '{field}' must be a positive integer");
        var atlas = new HeadAtlas
        {
            Model = o["model"]?.GetValue<string>() ?? throw new HeadWiseException($"{path}: field 'model' is missing"),
            Layers = Int("layers"), Heads = Int("heads"), KvHeads = Int("kv_heads"),
            Params = o["params"] as JsonObject is { } p ? (JsonObject)p.DeepClone() : [],
        };
        if (o["scores"] is not JsonObject scores) throw new HeadWiseException($"{path}: field 'scores' must be an object of layers x heads arrays");
        foreach (var (name, node) in scores)
        {
            var rows = (node as JsonArray)?.Select(r => (r as JsonArray)?.Select(v => v!.GetValue<double>()).ToArray()).ToArray();
            if (rows is null || rows.Length != atlas.Layers || rows.Any(r => r is null || r.Length != atlas.Heads))
                throw new HeadWiseException($"{path}: score '{name}' must be {atlas.Layers} rows of {atlas.Heads} numbers");
            atlas.Scores[name] = rows!;
        }
        return atlas;
    }
}
