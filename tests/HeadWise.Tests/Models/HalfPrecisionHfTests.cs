using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using HeadWise.Formats.Gguf;
using HeadWise.Formats.Safetensors;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using TorchSharp;

namespace HeadWise.Tests.Models;

/// <summary>
/// F16 and BF16 Hugging Face checkpoints through the forward pass, against their float32 twin: the same folder with every
/// tensor decoded by a decoder written here from the safetensors layout (8-byte header length, JSON header, raw
/// little-endian data) and stored as F32. The twin holds exactly the 16-bit values, so in float32 compute both must give
/// the same logits; and `convert --dtype f16|bf16` of the twin must write a GGUF that gives them too, with its matrices
/// stored in that type.
/// </summary>
public class HalfPrecisionHfTests
{
    [Theory]
    [InlineData("llama", "F16")]
    [InlineData("llama", "BF16")]
    [InlineData("qwen2", "BF16")] // tied embeddings
    public void A_16_bit_folder_gives_its_float32_twins_logits_and_converts_losslessly(string family, string dtype)
    {
        var root = TestPaths.NewTempDir("half");
        var half = RandomHfCheckpoint.Write(Path.Combine(root, "half"), family, seed: 3, dtype: dtype);
        var twin = F32Twin(half, Path.Combine(root, "twin"), dtype);
        var tokens = Enumerable.Range(0, 48).Select(i => (i * 37 + 11) % 200).ToArray();

        var f32 = new LoadOptions { DType = ComputeDType.F32 };
        float[] expected, actual, converted;
        using (var m = ModelLoader.Load(twin, f32)) expected = Logits(m.Transformer, tokens);
        using (var m = ModelLoader.Load(half, f32)) actual = Logits(m.Transformer, tokens);
        Assert.True(Spread(expected) > 1, "logits should spread, or equality says little");
        Assert.True(MaxDiff(expected, actual) <= 1e-6, $"{dtype} folder vs its F32 twin: {MaxDiff(expected, actual):g3}");

        var gguf = Path.Combine(root, "twin.gguf");
        var type = dtype == "F16" ? GgmlType.F16 : GgmlType.BF16;
        GgufConverter.Convert(twin, gguf, type);
        using (var file = GgufFile.Open(gguf))
            Assert.Equal(type, file.GetTensor("blk.0.attn_q.weight").Type);
        using (var m = ModelLoader.Load(gguf, f32)) converted = Logits(m.Transformer, tokens);
        Assert.True(MaxDiff(expected, converted) <= 1e-5, $"convert --dtype {dtype}: {MaxDiff(expected, converted):g3}");
    }

    /// <summary>Copies the folder with model.safetensors re-stored as F32, decoding F16/BF16 here (not with HeadWise's reader).</summary>
    private static string F32Twin(string source, string dir, string dtype)
    {
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(source).Where(f => !f.EndsWith(".safetensors")))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var bytes = File.ReadAllBytes(Path.Combine(source, "model.safetensors"));
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n))!.AsObject();
        var tensors = new List<(string, long[], string, ReadOnlyMemory<float>)>();
        foreach (var (name, entry) in header)
        {
            if (name == "__metadata__") continue;
            Assert.Equal(dtype, (string)entry!["dtype"]!);
            var shape = entry["shape"]!.AsArray().Select(x => (long)x!).ToArray();
            var range = entry["data_offsets"]!.AsArray().Select(x => (long)x!).ToArray();
            var raw = bytes.AsSpan((int)(8 + n + range[0]), (int)(range[1] - range[0]));
            var values = new float[raw.Length / 2];
            for (int i = 0; i < values.Length; i++)
            {
                ushort u = BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]);
                values[i] = dtype == "F16" ? (float)BitConverter.UInt16BitsToHalf(u) : BitConverter.Int32BitsToSingle(u << 16);
            }
            tensors.Add((name, shape, "F32", values));
        }
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        return dir;
    }

    private static float[] Logits(Transformer model, int[] tokens)
    {
        using var scope = torch.NewDisposeScope();
        var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        return model.Forward(ids).to(torch.ScalarType.Float32).reshape(-1).data<float>().ToArray();
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    private static double Spread(float[] a) => a.Max() - a.Min();
}
