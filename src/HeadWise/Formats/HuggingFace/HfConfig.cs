using System.Text.Json;
using HeadWise.Models;

namespace HeadWise.Formats.HuggingFace;

/// <summary>Reads a Hugging Face config.json into a <see cref="ModelSpec"/> for the families HeadWise runs.</summary>
public static class HfConfig
{
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "mistral", "qwen2", "qwen3", "gpt2", "bert"];

    public static ModelSpec Load(string configPath)
    {
        return Parse(ReadText(configPath), configPath);
    }

    /// <summary>config.json's text, bounded (<see cref="FileLimits.JsonConfig"/>).</summary>
    internal static string ReadText(string configPath) => BoundedFile.ReadAllText(configPath, "config.json", FileLimits.JsonConfig);

    /// <param name="source">Path used in error messages.</param>
    public static ModelSpec Parse(string json, string source) => ParseWithBiases(json, source).Spec;

    /// <summary>
    /// Also says which linear layers carry biases, which ModelSpec leaves to the checkpoint: Qwen2 always has
    /// q/k/v biases; Llama-style configs switch them on with attention_bias / mlp_bias.
    /// </summary>
    internal static (ModelSpec Spec, LinearBiases Biases) ParseWithBiases(string json, string source)
    {
        using (var doc = BoundedFile.ParseJson(System.Text.Encoding.UTF8.GetBytes(json), source, "config.json"))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(source, "config must be a JSON object");
            var c = new Fields(doc.RootElement, source);
            var type = c.String("model_type");
            var spec = type switch
            {
                "llama" or "mistral" or "qwen2" or "qwen3" => Decoder(c, type),
                "gpt2" => Gpt2(c),
                "bert" => Bert(c),
                _ => throw new InvalidModelFileException(source,
                    $"model_type '{type}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})"),
            };
            spec = spec with { Name = c.OptString("_name_or_path") ?? "", WeightType = WeightType(c.OptString("torch_dtype") ?? c.OptString("dtype")) };
            spec.Validate(source);
            var attnBias = c.OptBool("attention_bias") ?? false;
            var biases = type switch
            {
                "gpt2" or "bert" => new LinearBiases(true, true, true),
                "qwen2" => new LinearBiases(true, false, false),
                _ => new LinearBiases(attnBias, attnBias, c.OptBool("mlp_bias") ?? false),
            };
            return (spec, biases);
        }
    }

    private static ModelSpec Decoder(Fields c, string type)
    {
        var act = c.OptString("hidden_act") ?? "silu";
        if (act != "silu") throw new InvalidModelFileException(c.Source, $"field 'hidden_act' is {ErrorText.Quote(act)}; {type} needs 'silu' (SwiGLU)");
        var dim = c.Int("hidden_size");
        var heads = c.Int("num_attention_heads");
        return new ModelSpec
        {
            Architecture = type,
            Layers = c.Int("num_hidden_layers"),
            Dim = dim,
            Heads = heads,
            KvHeads = c.OptInt("num_key_value_heads") ?? heads,
            // Qwen3 (and some Mistral/Llama configs) give head_dim explicitly; it need not be hidden/heads.
            HeadDim = c.OptInt("head_dim") ?? (heads > 0 ? dim / heads : 0),
            FfnDim = c.Int("intermediate_size"),
            VocabSize = c.Int("vocab_size"),
            ContextLength = c.Int("max_position_embeddings"),
            NormEps = c.OptDouble("rms_norm_eps") ?? 1e-6,
            Norm = NormKind.RmsNorm,
            FeedForward = FeedForwardKind.SwiGlu,
            Positions = PositionKind.Rope,
            Rope = RopeLayout.Halves,
            RopeTheta = c.OptDouble("rope_theta") ?? 10000,
            RopeScaling = RopeScaling(c),
            QkNorm = type == "qwen3",
            TiedEmbeddings = c.OptBool("tie_word_embeddings") ?? false,
            Attention = Models.Variants.AttentionVariantJson.Read(c.Root, c.Source),
        };
    }

    private static ModelSpec Gpt2(Fields c)
    {
        var dim = c.Int("n_embd");
        var heads = c.Int("n_head");
        var act = c.OptString("activation_function") ?? "gelu_new";
        return new ModelSpec
        {
            Architecture = "gpt2",
            Layers = c.Int("n_layer"),
            Dim = dim,
            Heads = heads,
            KvHeads = heads,
            HeadDim = heads > 0 ? dim / heads : 0,
            FfnDim = c.OptInt("n_inner") ?? 4 * dim,  // n_inner is null in the released configs
            VocabSize = c.Int("vocab_size"),
            ContextLength = c.OptInt("n_positions") ?? c.Int("n_ctx"),
            NormEps = c.OptDouble("layer_norm_epsilon") ?? 1e-5,
            Norm = NormKind.LayerNorm,
            FeedForward = Activation(c, act),
            Positions = PositionKind.Learned,
            Rope = RopeLayout.Halves,
            TiedEmbeddings = c.OptBool("tie_word_embeddings") ?? true,
        };
    }

    private static ModelSpec Bert(Fields c)
    {
        var dim = c.Int("hidden_size");
        var heads = c.Int("num_attention_heads");
        var posType = c.OptString("position_embedding_type") ?? "absolute";
        if (posType != "absolute")
            throw new InvalidModelFileException(c.Source, $"field 'position_embedding_type' is {ErrorText.Quote(posType)}; only 'absolute' is supported");
        return new ModelSpec
        {
            Architecture = "bert",
            Layers = c.Int("num_hidden_layers"),
            Dim = dim,
            Heads = heads,
            KvHeads = heads,
            HeadDim = heads > 0 ? dim / heads : 0,
            FfnDim = c.Int("intermediate_size"),
            VocabSize = c.Int("vocab_size"),
            ContextLength = c.Int("max_position_embeddings"),
            NormEps = c.OptDouble("layer_norm_eps") ?? 1e-12,
            Norm = NormKind.LayerNorm,
            FeedForward = Activation(c, c.OptString("hidden_act") ?? "gelu"),
            Positions = PositionKind.Learned,
            Rope = RopeLayout.Halves,
            Causal = false,
            PostNorm = true,
            TokenTypes = c.OptInt("type_vocab_size") ?? 2,
            TiedEmbeddings = false,  // encoder: no output head
        };
    }

    private static FeedForwardKind Activation(Fields c, string act) => act switch
    {
        "gelu" => FeedForwardKind.Gelu,
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => FeedForwardKind.GeluTanh,
        _ => throw new InvalidModelFileException(c.Source,
            $"activation '{act}' is not supported (gelu, gelu_new, gelu_pytorch_tanh)"),
    };

    private static RopeScaling? RopeScaling(Fields c)
    {
        if (!c.Root.TryGetProperty("rope_scaling", out var rs) || rs.ValueKind == JsonValueKind.Null) return null;
        if (rs.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(c.Source, "field 'rope_scaling' must be an object or null");
        var s = new Fields(rs, c.Source, "rope_scaling.");
        var type = s.OptString("rope_type") ?? s.OptString("type")
                   ?? throw new InvalidModelFileException(c.Source, "field 'rope_scaling.rope_type' (or 'type') is missing");
        return type switch
        {
            "default" => null,
            "linear" => new RopeScaling("linear", s.Double("factor")),
            "llama3" => new RopeScaling("llama3", s.Double("factor"), s.OptDouble("low_freq_factor") ?? 1,
                s.OptDouble("high_freq_factor") ?? 4, s.OptInt("original_max_position_embeddings") ?? 8192),
            _ => throw new InvalidModelFileException(c.Source, $"rope_scaling type {ErrorText.Quote(type)} is not supported (linear, llama3)"),
        };
    }

    private static string WeightType(string? torchDtype) => torchDtype switch
    {
        "float16" => "F16",
        "bfloat16" => "BF16",
        _ => "F32",
    };

    /// <summary>Typed access to config fields; a missing or mistyped field is an error naming it.</summary>
    private readonly record struct Fields(JsonElement Root, string Source, string Prefix = "")
    {
        private JsonElement? Get(string name) =>
            Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        private InvalidModelFileException Bad(string name, string what) => new(Source, $"field '{Prefix}{name}' {what}");

        public int? OptInt(string name) => Get(name) is { } v
            ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Bad(name, $"must be an integer (found {ErrorText.Quote(v.GetRawText(), 40)})")
            : null;
        public double? OptDouble(string name) => Get(name) is { } v
            ? v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d
                : throw Bad(name, $"must be a finite number (found {ErrorText.Quote(v.GetRawText(), 40)})")
            : null;
        public bool? OptBool(string name) => Get(name) is { } v
            ? v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Bad(name, "must be true or false")
            : null;
        public string? OptString(string name) => Get(name) is { } v
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw Bad(name, "must be a string")
            : null;

        public int Int(string name) => OptInt(name) ?? throw Bad(name, "is missing");
        public double Double(string name) => OptDouble(name) ?? throw Bad(name, "is missing");
        public string String(string name) => OptString(name) ?? throw Bad(name, "is missing");
    }
}
