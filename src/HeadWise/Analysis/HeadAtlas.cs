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
            throw new HeadWiseException($"score {ErrorText.Quote(map.Name)} is {map.Layers} x {map.Heads} but the atlas is {Layers} layers x {Heads} heads");
        Scores[map.Name] = map.Values;
        Params[map.Name] = map.Params?.DeepClone() ?? new JsonObject();
    }

    public HeadMap this[string name] => Scores.TryGetValue(name, out var v)
        ? new HeadMap(name, v, Params[name] as JsonObject)
        : throw new HeadWiseException($"the atlas has no score {ErrorText.Quote(name)}; it has: {string.Join(", ", Scores.Keys)}");

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

    // JsonObject builds its dictionary lazily, on the first look at its members, and throws on a duplicate name then;
    // visiting every object here makes that a file error. (Serialising does not build it: ToJsonString passed duplicates.)
    private static JsonObject ParamsOf(JsonElement p, string path)
    {
        var o = JsonNode.Parse(p.GetRawText()) as JsonObject ?? [];
        try { Visit(o); }
        catch (ArgumentException) { throw new HeadWiseException($"{path}: field 'params' has a duplicate name"); }
        return o;
    }

    private static void Visit(JsonNode? node)
    {
        if (node is JsonObject o) foreach (var (_, v) in o) Visit(v);
        else if (node is JsonArray a) foreach (var v in a) Visit(v);
    }

    public static HeadAtlas Load(string path)
    {
        using var doc = Formats.BoundedFile.ReadJson(path, "atlas", Formats.FileLimits.Atlas);
        var o = doc.RootElement;
        if (o.ValueKind != JsonValueKind.Object) throw new HeadWiseException($"{path}: expected a JSON object at the top");
        JsonElement? Field(string name) => o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
        int Int(string field) => Field(field) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out int x) && x > 0 ? x
            : throw new HeadWiseException($"{path}: field {ErrorText.Quote(field)} must be a positive integer");
        var atlas = new HeadAtlas
        {
            Model = Field("model") is { ValueKind: JsonValueKind.String } m ? m.GetString()! : throw new HeadWiseException($"{path}: field 'model' must be a string"),
            Layers = Int("layers"), Heads = Int("heads"), KvHeads = Int("kv_heads"),
            Params = Field("params") is { ValueKind: JsonValueKind.Object } p ? ParamsOf(p, path) : [],
        };
        if (atlas.KvHeads > atlas.Heads || atlas.Heads % atlas.KvHeads != 0)
            throw new HeadWiseException($"{path}: kv_heads {atlas.KvHeads} must divide heads {atlas.Heads}");
        if (Field("scores") is not { ValueKind: JsonValueKind.Object } scores)
            throw new HeadWiseException($"{path}: field 'scores' must be an object of layers x heads arrays");
        foreach (var score in scores.EnumerateObject())
        {
            var bad = new HeadWiseException($"{path}: score {ErrorText.Quote(score.Name)} must be {atlas.Layers} rows of {atlas.Heads} numbers, all finite");
            if (score.Value.ValueKind != JsonValueKind.Array || score.Value.GetArrayLength() != atlas.Layers) throw bad;
            var rows = new double[atlas.Layers][];
            int l = 0;
            foreach (var row in score.Value.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != atlas.Heads) throw bad;
                rows[l] = new double[atlas.Heads];
                int h = 0;
                foreach (var v in row.EnumerateArray())
                    rows[l][h++] = v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d : throw bad;
                l++;
            }
            if (!atlas.Scores.TryAdd(score.Name, rows)) throw new HeadWiseException($"{path}: score {ErrorText.Quote(score.Name)} appears twice");
        }
        return atlas;
    }
}
