using System.Buffers.Binary;
using System.Text.Json.Nodes;
using HeadWise.Formats.Gguf;

namespace HeadWise.Tests.Hostile;

/// <summary>Hostile variants of real files: stories260K's GGUF with edited metadata or tensors, the testbed's Hugging Face folder with edited JSON.</summary>
internal static class HostileFiles
{
    public static string Testbed(string file) => Path.Combine(RepoRoot(), "models", "testbed-2k", file);

    /// <summary>stories260K.gguf rewritten with <paramref name="editMetadata"/> applied (and optionally its tensors changed).</summary>
    public static string StoriesGguf(Action<Dictionary<string, object>> editMetadata, Func<GgufTensorData, GgufTensorData>? editTensor = null,
        string? dir = null, string name = "model.gguf")
    {
        using var file = GgufFile.Open(TestPaths.Stories260KGguf);
        var metadata = file.Metadata.Where(kv => kv.Key != "general.alignment").ToDictionary(kv => kv.Key, kv => kv.Value);
        editMetadata(metadata);
        var tensors = file.Tensors.Select(t => new GgufTensorData(t.Name, t.Shape, GgmlType.F32, file.ReadFloats(t)))
            .Select(t => editTensor?.Invoke(t) ?? t).ToList();
        var path = Path.Combine(dir ?? TestPaths.NewTempDir("hostile"), name);
        GgufWriter.Write(path, metadata, tensors);
        return path;
    }

    /// <summary>A llama2.c file: the seven int32 header fields and nothing else.</summary>
    public static string Llama2cHeader(params int[] fields)
    {
        var bytes = new byte[fields.Length * 4];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), fields[i]);
        var dir = TestPaths.NewTempDir("hostile");
        File.Copy(TestPaths.Stories260KTokenizerBin, Path.Combine(dir, "tokenizer.bin"));
        var path = Path.Combine(dir, "model.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A copy of the testbed's Hugging Face folder with config.json and tokenizer.json edited.</summary>
    public static string TestbedFolder(Action<JsonObject>? editConfig = null, Action<JsonObject>? editTokenizer = null, string? dir = null)
    {
        dir ??= TestPaths.NewTempDir("hostile");
        Directory.CreateDirectory(dir);
        File.Copy(Testbed("model.safetensors"), Path.Combine(dir, "model.safetensors"));
        WriteEdited(Testbed("config.json"), Path.Combine(dir, "config.json"), editConfig);
        WriteEdited(Testbed("tokenizer.json"), Path.Combine(dir, "tokenizer.json"), editTokenizer);
        return dir;
    }

    private static void WriteEdited(string from, string to, Action<JsonObject>? edit)
    {
        if (edit is null) { File.Copy(from, to); return; }
        var json = JsonNode.Parse(File.ReadAllText(from))!.AsObject();
        edit(json);
        File.WriteAllText(to, json.ToJsonString());
    }

    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "HeadWise.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root (HeadWise.slnx) not found");
    }
}
