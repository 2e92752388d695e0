using System.Diagnostics;
using System.Text.Json;
using HeadWise.Formats.Safetensors;
using HeadWise.Models;

namespace HeadWise.Bench;

/// <summary>
/// Issue 3, acceptance 5: peak RSS while loading a ~500 MB random F32 Llama checkpoint in the Hugging Face layout.
/// `load-memory` writes the folder in a child process (so writing does not count), then loads it in another child and
/// reads that child's VmHWM (peak resident set) from /proc/self/status.
/// </summary>
internal static class LoadMemoryBench
{
    public static int Run(string[] args)
    {
        if (args.FirstOrDefault() == "--write-only") return Write(args[1], int.Parse(args[2]));
        if (args.FirstOrDefault() == "--load-only") return Load(args[1]);
        int sizeMb = Arg(args, "--size-mb", 500);
        var dir = args.SkipWhile(a => a != "--dir").Skip(1).FirstOrDefault() ?? Path.Combine(Path.GetTempPath(), $"hw-loadmem-{sizeMb}");
        if (!File.Exists(Path.Combine(dir, "model.safetensors"))) Child("--write-only", dir, sizeMb.ToString());
        var fileMb = new FileInfo(Path.Combine(dir, "model.safetensors")).Length / 1048576.0;
        var output = Child("--load-only", dir);
        Console.WriteLine($"checkpoint {fileMb:F1} MiB; {output.Trim()}");
        return 0;
    }

    private static int Arg(string[] args, string name, int fallback) =>
        args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? int.Parse(v) : fallback;

    private static string Child(params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        var self = typeof(LoadMemoryBench).Assembly.Location;
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(self);
        psi.ArgumentList.Add("load-memory");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"child {string.Join(' ', args)} failed ({p.ExitCode})");
        return text;
    }

    /// <summary>Llama shape scaled so the F32 file is about <paramref name="sizeMb"/> MiB: dim 1024, FFN 2816, vocab 32000, tied output.</summary>
    private static int Write(string dir, int sizeMb)
    {
        Directory.CreateDirectory(dir);
        const int dim = 1024, ffn = 2816, vocab = 32000;
        long perLayer = 4L * dim * dim + 3L * dim * ffn + 2 * dim, embed = (long)vocab * dim;
        int layers = Math.Max(1, (int)((sizeMb * 1048576L / 4 - embed) / perLayer));
        var rng = new Random(1);
        float[] R(long n) { var a = new float[n]; for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() - 0.5) * 0.05f; return a; }
        var tensors = new List<(string, long[], string, ReadOnlyMemory<float>)> { ("model.embed_tokens.weight", [vocab, dim], "F32", R(embed)) };
        for (int l = 0; l < layers; l++)
        {
            var p = $"model.layers.{l}.";
            tensors.Add((p + "input_layernorm.weight", [dim], "F32", Enumerable.Repeat(1f, dim).ToArray()));
            foreach (var n in new[] { "q_proj", "k_proj", "v_proj", "o_proj" }) tensors.Add((p + "self_attn." + n + ".weight", [dim, dim], "F32", R((long)dim * dim)));
            tensors.Add((p + "post_attention_layernorm.weight", [dim], "F32", Enumerable.Repeat(1f, dim).ToArray()));
            tensors.Add((p + "mlp.gate_proj.weight", [ffn, dim], "F32", R((long)ffn * dim)));
            tensors.Add((p + "mlp.up_proj.weight", [ffn, dim], "F32", R((long)ffn * dim)));
            tensors.Add((p + "mlp.down_proj.weight", [dim, ffn], "F32", R((long)ffn * dim)));
        }
        tensors.Add(("model.norm.weight", [dim], "F32", Enumerable.Repeat(1f, dim).ToArray()));
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        var config = new Dictionary<string, object>
        {
            ["model_type"] = "llama", ["hidden_size"] = dim, ["intermediate_size"] = ffn, ["num_attention_heads"] = 16,
            ["num_key_value_heads"] = 16, ["num_hidden_layers"] = layers, ["vocab_size"] = vocab, ["max_position_embeddings"] = 2048,
            ["rms_norm_eps"] = 1e-5, ["hidden_act"] = "silu", ["tie_word_embeddings"] = true,
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        // A byte-level tokenizer of 256 tokens (the model's table is larger, as padded vocabularies are).
        var vocabJson = string.Join(",", Enumerable.Range(0, 256).Select(b =>
            JsonSerializer.Serialize(HeadWise.Tokenizers.ByteLevelAlphabet.ByteToChar((byte)b).ToString()) + ":" + b));
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"),
            "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"vocab\":{" + vocabJson + "},\"merges\":[]}}");
        return 0;
    }

    private static int Load(string dir)
    {
        var before = Hwm();
        if (Environment.GetEnvironmentVariable("HEADWISE_SMAPS") == "1") PrintLargestMappings();
        var sw = Stopwatch.StartNew();
        using var m = ModelLoader.Load(dir);
        var seconds = sw.Elapsed.TotalSeconds;
        var after = Hwm();
        Console.WriteLine($"{m.Spec.Layers} layers, {m.Transformer.Weights.ParameterCount * 4 / 1048576.0:F1} MiB of float32 weights; " +
                          $"peak RSS before load {before / 1024.0:F1} MiB, after load {after / 1024.0:F1} MiB; load {seconds:F2} s");
        return 0;
    }

    /// <summary>Where the resident set before loading lives: the largest mappings of /proc/self/smaps by Rss.</summary>
    private static void PrintLargestMappings()
    {
        var rows = new List<(long Kb, string Name)>();
        string name = "";
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 0 && parts[0].Contains('-') && !parts[0].EndsWith(':')) name = parts.Length >= 6 ? parts[5] : "[anon]";
            else if (parts[0] == "Rss:") rows.Add((long.Parse(parts[1]), name));
        }
        foreach (var g in rows.GroupBy(r => r.Name).Select(g => (Kb: g.Sum(r => r.Kb), g.Key)).OrderByDescending(g => g.Kb).Take(12))
            Console.Error.WriteLine($"{g.Kb / 1024.0,8:F1} MiB  {g.Key}");
    }

    /// <summary>VmHWM (peak resident set size) in KiB.</summary>
    private static long Hwm()
    {
        HeadWise.Runtime.Torch.EnsureStarted();
        return HeadWise.Eval.ProcessMemory.PeakRss() / 1024;
    }
}
