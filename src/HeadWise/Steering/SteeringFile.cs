using System.Text.Json;
using System.Text.Json.Nodes;
using HeadWise.Formats;
using HeadWise.Models;

namespace HeadWise.Steering;

/// <summary>
/// A saved steering (`headwise steer ... --out F`, read by `bench`/`sweep --steer F`): the method, the shape of the model it
/// was found on (layers, heads, head size: a file for another shape is refused), the method's parameters, and how it was
/// found (task, splits, dev and test scores) for the record.
/// </summary>
public static class SteeringFile
{
    public const string Format = "headwise-steering";
    public const int Version = 1;

    /// <summary>The methods a file can hold, as the CLI names them.</summary>
    public static readonly IReadOnlyList<string> Methods = ["zerotuning", "act", "inject"];

    public static JsonObject ToJson(ISteering steering, ModelSpec spec, JsonObject? found = null) => new()
    {
        ["format"] = Format, ["version"] = Version, ["method"] = steering.Method,
        ["model"] = new JsonObject { ["name"] = spec.Name, ["layers"] = spec.Layers, ["heads"] = spec.Heads, ["head_dim"] = spec.HeadDim },
        ["steering"] = steering.ToJson(),
        ["found"] = found,
    };

    public static void Save(string path, ISteering steering, ModelSpec spec, JsonObject? found = null) =>
        File.WriteAllText(path, ToJson(steering, spec, found).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>Reads a steering file for <paramref name="spec"/>; anything malformed or made for another shape is one error naming the file.</summary>
    public static ISteering Load(string path, ModelSpec spec)
    {
        using var doc = BoundedFile.ReadJson(path, "steering file", FileLimits.Atlas);
        try
        {
            return Parse(JsonNode.Parse(doc.RootElement.GetRawText())!.AsObject(), spec);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException or NullReferenceException or KeyNotFoundException or OverflowException)
        {
            throw new InvalidModelFileException(path, $"not a steering file HeadWise can read ({e.Message})");
        }
        catch (HeadWiseException e) when (e is not InvalidModelFileException)
        {
            throw new InvalidModelFileException(path, e.Message);
        }
    }

    private static ISteering Parse(JsonObject root, ModelSpec spec)
    {
        if ((string?)root["format"] != Format) throw new HeadWiseException($"its format is not \"{Format}\"");
        if ((int?)root["version"] != Version) throw new HeadWiseException($"its version is not {Version}");
        var model = root["model"]!.AsObject();
        int layers = (int)model["layers"]!, heads = (int)model["heads"]!, headDim = (int)model["head_dim"]!;
        if (layers != spec.Layers || heads != spec.Heads || headDim != spec.HeadDim)
            throw new HeadWiseException($"this steering was found on a model of {layers} layers x {heads} heads of size {headDim}; " +
                                        $"this model has {spec.Layers} x {spec.Heads} of size {spec.HeadDim}");
        var s = root["steering"]!.AsObject();
        string method = (string?)root["method"] ?? "";
        return method switch
        {
            "zerotuning" => new ZeroTuning(Heads(s), (double)s["scale"]!).Check(spec),
            "act" => new AttentionCalibration(Heads(s), (double)s["threshold"]!, (double)s["beta"]!).Check(spec),
            "inject" => new SoftInjection(
                [.. s["embedding"]!.AsArray().Select(l => l!.AsArray().Select(h => h!.AsArray().Select(x => (float)x!).ToArray()).ToArray())],
                [.. s["alpha"]!.AsArray().Select(l => l!.AsArray().Select(x => (float)x!).ToArray())]).Check(spec),
            _ => throw new HeadWiseException($"unknown steering method '{method}'; known: {string.Join(", ", Methods)}"),
        };
    }

    private static List<HeadRef> Heads(JsonObject s) => [.. s["heads"]!.AsArray().Select(h => HeadRef.Parse((string)h!))];

    /// <summary>One line saying what a steering does.</summary>
    public static string Describe(ISteering s) => s switch
    {
        ZeroTuning z => z.Heads.Count == 0 ? "no head helped on the dev split: nothing steered" : $"heads {string.Join(",", z.Heads)} first-token attention x{z.Scale:0.###}",
        AttentionCalibration a => a.Heads.Count == 0 ? "no head helped on the dev split: nothing calibrated" : $"calibrates heads {string.Join(",", a.Heads)} (threshold {a.Threshold}, beta {a.Beta})",
        SoftInjection i => $"injects into {i.Alpha.Sum(l => l.Count(x => x > 0))} heads (largest weights {string.Join(", ", i.Alpha.SelectMany((l, li) => l.Select((x, h) => (x, h: $"{li}.{h}"))).OrderByDescending(x => x.x).Take(3).Select(x => $"{x.h}={x.x:F2}"))})",
        _ => s.Method,
    };

    /// <summary>How results record a steering read from <paramref name="path"/>: method, what it changes, file name.</summary>
    public static string Applied(ISteering s, string path) => $"{s.Method}: {Describe(s)} ({Path.GetFileName(path)})";
}
