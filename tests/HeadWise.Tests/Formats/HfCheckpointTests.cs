using Xunit;
using HeadWise.Formats;
using HeadWise.Formats.HuggingFace;
using HeadWise.Formats.Safetensors;

namespace HeadWise.Tests.Formats;

/// <summary>Tiny checkpoints written in the real Hugging Face folder layout, each element a distinct value.</summary>
public class HfCheckpointTests
{
    private const string TinyLlamaConfig = """
        {"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":8,"num_hidden_layers":2,
         "num_attention_heads":2,"num_key_value_heads":1,"intermediate_size":12,"vocab_size":16,
         "max_position_embeddings":32,"rms_norm_eps":1e-05,"rope_theta":10000.0,"tie_word_embeddings":false,"hidden_act":"silu"}
        """;

    private const string TinyQwen3Config = """
        {"model_type":"qwen3","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,
         "head_dim":6,"intermediate_size":12,"vocab_size":16,"max_position_embeddings":32,"rms_norm_eps":1e-06,
         "rope_theta":1000000,"tie_word_embeddings":true,"torch_dtype":"bfloat16","hidden_act":"silu"}
        """;

    private static readonly string TinyQwen2Config = TinyLlamaConfig.Replace("\"llama\"", "\"qwen2\"");

    /// <summary>Llama-family tensors under HF names; q/k/v biases for Qwen2, q/k norms for Qwen3.</summary>
    private static List<(string Name, long[] Shape)> DecoderTensors(int layers, int dim, int q, int kv, int ffn, int vocab,
        bool lmHead, bool qkvBias = false, int qkNorm = 0)
    {
        var list = new List<(string, long[])> { ("model.embed_tokens.weight", [vocab, dim]), ("model.norm.weight", [dim]) };
        if (lmHead) list.Add(("lm_head.weight", [vocab, dim]));
        for (var l = 0; l < layers; l++)
        {
            var p = $"model.layers.{l}.";
            list.AddRange([
                (p + "input_layernorm.weight", [dim]), (p + "post_attention_layernorm.weight", [dim]),
                (p + "self_attn.q_proj.weight", [q, dim]), (p + "self_attn.k_proj.weight", [kv, dim]),
                (p + "self_attn.v_proj.weight", [kv, dim]), (p + "self_attn.o_proj.weight", [dim, q]),
                (p + "mlp.gate_proj.weight", [ffn, dim]), (p + "mlp.up_proj.weight", [ffn, dim]), (p + "mlp.down_proj.weight", [dim, ffn]),
            ]);
            if (qkvBias) list.AddRange([(p + "self_attn.q_proj.bias", [q]), (p + "self_attn.k_proj.bias", [kv]), (p + "self_attn.v_proj.bias", [kv])]);
            if (qkNorm > 0) list.AddRange([(p + "self_attn.q_norm.weight", [qkNorm]), (p + "self_attn.k_norm.weight", [qkNorm])]);
        }
        return list;
    }

    /// <summary>Element j of the i-th tensor is i*1000 + j: exact in F32. BF16 keeps 8 significant bits, so there it is (i % 2) * 128 + j (exact below 256 elements).</summary>
    private static List<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)> WithValues(
        IEnumerable<(string Name, long[] Shape)> tensors, string dtype = "F32") =>
        tensors.Select((t, i) =>
        {
            var n = (int)t.Shape.Aggregate(1L, (a, b) => a * b);
            var data = Enumerable.Range(0, n).Select(j => dtype == "BF16" ? (i % 2) * 128f + j : i * 1000f + j).ToArray();
            return (t.Name, t.Shape, dtype, (ReadOnlyMemory<float>)data);
        }).ToList();

    private static string Folder(string config, List<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)> tensors,
        int shards = 0, bool tokenizer = false)
    {
        var dir = TestPaths.NewTempDir("hf");
        File.WriteAllText(Path.Combine(dir, "config.json"), config);
        if (shards > 0) SafetensorsWriter.WriteSharded(dir, tensors, shards);
        else SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        if (tokenizer) File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{}");
        return dir;
    }

    private static float[] Read(ITensorSource s, string name)
    {
        var dst = new float[s.Shape(name).Aggregate(1L, (a, b) => a * b)];
        s.ReadFloats(name, dst);
        return dst;
    }

    private static float[] Data(List<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)> t, string name) =>
        t.Single(x => x.name == name).data.ToArray();

    [Fact]
    public void LlamaMapsEveryTensorToItsCanonicalName()
    {
        var tensors = WithValues(DecoderTensors(2, 8, 8, 4, 12, 16, lmHead: true));
        var dir = Folder(TinyLlamaConfig, tensors, tokenizer: true);
        var (spec, source) = HfCheckpoint.Open(dir);
        using var _ = source;
        Assert.Equal(("llama", 2, 8, 2, 1, 4), (spec.Architecture, spec.Layers, spec.Dim, spec.Heads, spec.KvHeads, spec.HeadDim));
        Assert.Equal(2 + 1 + 2 * 9, source.Names.Count);
        Assert.Equal(new long[] { 4, 8 }, source.Shape("blk.1.attn_k.weight"));
        Assert.Equal(Data(tensors, "model.layers.1.self_attn.k_proj.weight"), Read(source, "blk.1.attn_k.weight"));
        Assert.Equal(Data(tensors, "model.layers.0.mlp.down_proj.weight"), Read(source, "blk.0.ffn_down.weight"));
        Assert.Equal(Data(tensors, "model.layers.0.post_attention_layernorm.weight"), Read(source, "blk.0.ffn_norm.weight"));
        Assert.Equal(Data(tensors, "lm_head.weight"), Read(source, "output.weight"));
        Assert.Equal(Data(tensors, "model.norm.weight"), Read(source, "output_norm.weight"));
        Assert.Equal(Path.Combine(dir, "tokenizer.json"), ((HfCheckpoint)source).TokenizerJsonPath);
    }

    [Fact]
    public void Qwen3ShardedBf16TiedHasQkNormsAndNoOutput()
    {
        var tensors = WithValues(DecoderTensors(1, 8, 12, 6, 12, 16, lmHead: false, qkNorm: 6), "BF16");
        using var ckpt = HfCheckpoint.Open(Folder(TinyQwen3Config, tensors, shards: 3));
        Assert.Equal("BF16", ckpt.Spec.WeightType);
        Assert.True(ckpt.Spec.QkNorm);
        Assert.False(ckpt.Contains("output.weight"));
        Assert.Null(ckpt.TokenizerJsonPath);
        Assert.Equal(new long[] { 12, 8 }, ckpt.Shape("blk.0.attn_q.weight"));
        Assert.Equal(Data(tensors, "model.layers.0.self_attn.k_norm.weight"), Read(ckpt, "blk.0.attn_k_norm.weight"));
        Assert.Equal(Data(tensors, "model.layers.0.self_attn.o_proj.weight"), Read(ckpt, "blk.0.attn_output.weight"));
    }

    [Fact]
    public void Qwen2WithoutQkvBiasNamesTheMissingTensor()
    {
        var tensors = WithValues(DecoderTensors(2, 8, 8, 4, 12, 16, lmHead: true, qkvBias: true)
            .Where(t => t.Name != "model.layers.1.self_attn.v_proj.bias"));
        var e = Assert.Throws<InvalidModelFileException>(() => HfCheckpoint.Open(Folder(TinyQwen2Config, tensors)));
        Assert.Contains("blk.1.attn_v.bias", e.Message);
        Assert.Contains("layers.1.self_attn.v_proj.bias", e.Message);
        Assert.Contains("missing", e.Message);
        Assert.EndsWith("model.safetensors", e.Path);
    }

    [Fact]
    public void WrongShapeNamesTensorExpectedAndFound()
    {
        var tensors = WithValues(DecoderTensors(2, 8, 8, 4, 12, 16, lmHead: true)
            .Select(t => t.Name == "model.layers.0.self_attn.k_proj.weight" ? (t.Name, new long[] { 8, 8 }) : t));
        var e = Assert.Throws<InvalidModelFileException>(() => HfCheckpoint.Open(Folder(TinyLlamaConfig, tensors)));
        Assert.Contains("blk.0.attn_k.weight", e.Message);
        Assert.Contains("expected [4, 8]", e.Message);
        Assert.Contains("found stored shape [8, 8]", e.Message);
    }

    [Fact]
    public void UnknownModelTypeFailsOpen()
    {
        var dir = Folder(TinyLlamaConfig.Replace("\"llama\"", "\"mamba\""), WithValues(DecoderTensors(2, 8, 8, 4, 12, 16, true)));
        Assert.Contains("'mamba'", Assert.Throws<InvalidModelFileException>(() => HfCheckpoint.Open(dir)).Message);
    }

    [Fact]
    public void MissingShardFailsOpenNamingTheShard()
    {
        var dir = Folder(TinyLlamaConfig, WithValues(DecoderTensors(2, 8, 8, 4, 12, 16, true)), shards: 2);
        File.Delete(Path.Combine(dir, "model-00001-of-00002.safetensors"));
        Assert.Contains("model-00001-of-00002.safetensors", Assert.Throws<InvalidModelFileException>(() => HfCheckpoint.Open(dir)).Message);
    }

    private const string TinyGpt2Config = """
        {"model_type":"gpt2","activation_function":"gelu_new","n_embd":4,"n_head":2,"n_layer":1,"n_positions":6,
         "n_ctx":6,"vocab_size":10,"layer_norm_epsilon":1e-05}
        """;

    [Theory]
    [InlineData("")]
    [InlineData("transformer.")]
    public void Gpt2Conv1DIsSplitAndTransposed(string prefix)
    {
        const int d = 4, f = 16;
        // Every matrix element encodes its stored position: value = row * 100 + col.
        float[] Grid(int rows, int cols) => Enumerable.Range(0, rows * cols).Select(k => k / cols * 100f + k % cols).ToArray();
        float[] Seq(int n, float start) => Enumerable.Range(0, n).Select(k => start + k).ToArray();
        var p = prefix + "h.0.";
        var tensors = new List<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)>
        {
            (prefix + "wte.weight", [10, d], "F32", Seq(10 * d, 0)), (prefix + "wpe.weight", [6, d], "F32", Seq(6 * d, 0)),
            (p + "ln_1.weight", [d], "F32", Seq(d, 1)), (p + "ln_1.bias", [d], "F32", Seq(d, 2)),
            (p + "attn.c_attn.weight", [d, 3 * d], "F32", Grid(d, 3 * d)), (p + "attn.c_attn.bias", [3 * d], "F32", Seq(3 * d, 1000)),
            (p + "attn.c_proj.weight", [d, d], "F32", Grid(d, d)), (p + "attn.c_proj.bias", [d], "F32", Seq(d, 0)),
            (p + "attn.bias", [1, 1, 6, 6], "F32", new float[36]),  // the causal-mask buffer old exports carry
            (p + "ln_2.weight", [d], "F32", Seq(d, 0)), (p + "ln_2.bias", [d], "F32", Seq(d, 0)),
            (p + "mlp.c_fc.weight", [d, f], "F32", Grid(d, f)), (p + "mlp.c_fc.bias", [f], "F32", Seq(f, 0)),
            (p + "mlp.c_proj.weight", [f, d], "F32", Grid(f, d)), (p + "mlp.c_proj.bias", [d], "F32", Seq(d, 0)),
            (prefix + "ln_f.weight", [d], "F32", Seq(d, 0)), (prefix + "ln_f.bias", [d], "F32", Seq(d, 0)),
        };
        using var c = HfCheckpoint.Open(Folder(TinyGpt2Config.Replace("\"n_embd\":4", "\"n_embd\":4,\"n_inner\":16"), tensors));
        Assert.False(c.Contains("output.weight"));
        Assert.True(c.Spec.TiedEmbeddings);
        string[] parts = ["attn_q", "attn_k", "attn_v"];
        for (var part = 0; part < 3; part++)
        {
            var w = Read(c, $"blk.0.{parts[part]}.weight");  // [out=d, in=d]
            Assert.Equal(new long[] { d, d }, c.Shape($"blk.0.{parts[part]}.weight"));
            for (var o = 0; o < d; o++)
                for (var i = 0; i < d; i++)
                    Assert.Equal(i * 100 + part * d + o, w[o * d + i]);  // canonical [o, i] = stored [i, part*d + o]
            Assert.Equal(Seq(d, 1000 + part * d), Read(c, $"blk.0.{parts[part]}.bias"));
        }
        var up = Read(c, "blk.0.ffn_up.weight");
        Assert.Equal(new long[] { f, d }, c.Shape("blk.0.ffn_up.weight"));
        Assert.Equal(3 * 100 + 9, up[9 * d + 3]);  // canonical [9, 3] = stored [3, 9]
        var down = Read(c, "blk.0.ffn_down.weight");
        Assert.Equal(new long[] { d, f }, c.Shape("blk.0.ffn_down.weight"));
        Assert.Equal(13 * 100 + 2, down[2 * f + 13]);  // canonical [2, 13] = stored [13, 2]
        Assert.Equal(2 * 100 + 1, Read(c, "blk.0.attn_output.weight")[1 * d + 2]);
        Assert.Equal(Seq(6 * d, 0), Read(c, "position_embd.weight"));
    }

    [Fact]
    public void BertWithPrefixAndLegacyGammaBeta()
    {
        var (dir, tensors) = BertFolder();
        using var c = HfCheckpoint.Open(dir);
        Assert.Equal(3 + 2 + 6 * 2 + 2 * 2, c.Names.Count);
        Assert.Equal(Data(tensors, "bert.embeddings.LayerNorm.beta"), Read(c, "token_embd_norm.bias"));
        Assert.Equal(Data(tensors, "bert.encoder.layer.0.intermediate.dense.weight"), Read(c, "blk.0.ffn_up.weight"));
        Assert.Equal(Data(tensors, "bert.encoder.layer.0.output.LayerNorm.weight"), Read(c, "blk.0.layer_output_norm.weight"));
        Assert.Equal(Data(tensors, "bert.embeddings.token_type_embeddings.weight"), Read(c, "token_types.weight"));
        Assert.False(c.Spec.Causal);
    }

    [Fact]
    public void Converting_an_encoder_folder_to_gguf_is_one_clear_error()
    {
        // A BERT folder in transformers' layout (not a decoder with its architecture renamed): the converter writes
        // decoder GGUFs only, and says so before it reads a tensor.
        var (dir, _) = BertFolder();
        var gguf = Path.Combine(dir, "x.gguf");
        var e = Assert.Throws<HeadWiseException>(() => HeadWise.Formats.Gguf.GgufConverter.Convert(dir, gguf));
        Assert.Contains("'bert'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(gguf));
    }

    private static (string Dir, List<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)> Tensors) BertFolder()
    {
        const string config = """
            {"model_type":"bert","hidden_size":4,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8,
             "max_position_embeddings":5,"type_vocab_size":2,"vocab_size":7,"layer_norm_eps":1e-12,"hidden_act":"gelu"}
            """;
        var shapes = new List<(string, long[])>
        {
            ("bert.embeddings.word_embeddings.weight", [7, 4]), ("bert.embeddings.position_embeddings.weight", [5, 4]),
            ("bert.embeddings.token_type_embeddings.weight", [2, 4]), ("bert.embeddings.LayerNorm.gamma", [4]), ("bert.embeddings.LayerNorm.beta", [4]),
            ("cls.predictions.bias", [7]),
        };
        var l = "bert.encoder.layer.0.";
        foreach (var (n, o, i) in new[] { ("attention.self.query", 4, 4), ("attention.self.key", 4, 4), ("attention.self.value", 4, 4),
                     ("attention.output.dense", 4, 4), ("intermediate.dense", 8, 4), ("output.dense", 4, 8) })
            shapes.AddRange([(l + n + ".weight", [o, i]), (l + n + ".bias", [o])]);
        foreach (var n in new[] { "attention.output.LayerNorm", "output.LayerNorm" }) shapes.AddRange([(l + n + ".weight", [4]), (l + n + ".bias", [4])]);
        var tensors = WithValues(shapes);
        return (Folder(config, tensors), tensors);
    }
}
