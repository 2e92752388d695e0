using HeadWise.Formats;
using HeadWise.Formats.Gguf;
using HeadWise.Formats.HuggingFace;
using HeadWise.Formats.Llama2c;
using HeadWise.Formats.Onnx;
using HeadWise.Tokenizers;

namespace HeadWise.Models;

/// <summary>How to load a checkpoint.</summary>
public sealed record LoadOptions
{
    /// <summary>Tokenizer file to use instead of the one inside or beside the model.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Compute dtype; null: float32 for F32 files, bf16 for BF16, F16 and quantised ones (<see cref="ComputeDTypes.DefaultFor"/>).</summary>
    public ComputeDType? DType { get; init; }
    /// <summary>
    /// <see cref="ActivationRounding.Ggml"/>: round each matrix product's input as llama.cpp's CPU backend does for that
    /// matrix's GGUF type (8-bit blocks for quantized weights, float16 for F16), so that a quantized file gives
    /// llama.cpp's logits to float rounding. Needs float32 compute; other formats than GGUF are unaffected.
    /// </summary>
    public ActivationRounding Activations { get; init; }
}

/// <summary>What happens to a matrix product's input: nothing (the default), or ggml's rounding for the matrix's stored type.</summary>
public enum ActivationRounding { None, Ggml }

public static class ActivationRoundings
{
    public const string Names = "none, ggml";

    /// <summary>--activations' values; anything else is one error naming what is accepted.</summary>
    public static ActivationRounding Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "none" => ActivationRounding.None,
        "ggml" => ActivationRounding.Ggml,
        _ => throw new HeadWiseException($"--activations '{text}' is not supported ({Names})"),
    };
}

/// <summary>Opens any supported checkpoint by looking at what the path is, never at a hub.</summary>
public static partial class ModelLoader
{
    /// <summary>
    /// Opens a checkpoint by what <paramref name="path"/> is: a GGUF file, a llama2.c .bin (tokenizer.bin beside it), a Hugging Face
    /// folder (config.json, *.safetensors, tokenizer.json) or a BERT .onnx (vocab.txt beside it); <paramref name="options"/> may name
    /// another tokenizer and the compute dtype. A hub name ("org/model") is refused with an offline message; a bad file is one
    /// <see cref="HeadWiseException"/>.
    /// </summary>
    public static LoadedModel Load(string path, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        if (string.IsNullOrWhiteSpace(path)) throw new HeadWiseException("no model path given");
        if (LooksLikeHubId(path))
            throw new HeadWiseException($"'{path}' is not a local file or folder. HeadWise does not download from model hubs " +
                                        "(this machine is offline); download the checkpoint yourself and pass its path");
        if (Directory.Exists(path)) return LoadHuggingFace(path, options);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) && File.Exists(path))
            return LoadHuggingFace(Path.GetDirectoryName(Path.GetFullPath(path))!, options);
        if (!File.Exists(path)) throw new HeadWiseException($"{path}: file not found");
        return DetectFormat(path) switch
        {
            "gguf" => LoadGguf(path, options),
            "llama2c" => LoadLlama2c(path, options),
            "onnx" => LoadOnnx(path, options),
            var other => throw new InvalidModelFileException(path, $"unrecognised model format ({other})"),
        };
    }

    /// <summary>
    /// "org/name" with no such local path: what a user types for a hub model. Names may hold dots
    /// (TinyLlama/TinyLlama-1.1B-Chat-v1.0); a checkpoint file extension means a local file that is missing.
    /// </summary>
    private static bool LooksLikeHubId(string path) =>
        !File.Exists(path) && !Directory.Exists(path) && HubId().IsMatch(path) &&
        !new[] { ".gguf", ".bin", ".onnx", ".safetensors", ".json", ".pt", ".pth" }.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]*[A-Za-z0-9]$")]
    private static partial System.Text.RegularExpressions.Regex HubId();

    private static string DetectFormat(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using (var fs = BoundedFile.OpenRead(path, "model file")) magic = magic[..fs.Read(magic)];
        if (magic.SequenceEqual("GGUF"u8)) return "gguf";
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return "gguf"; // let the reader name the bad magic
        if (path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) return "llama2c";
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return "onnx";
        return $"extension '{Path.GetExtension(path)}', first bytes {Convert.ToHexString(magic)}";
    }

    /// <summary>The spec with its compute dtype: the one asked for, or the default for how the file stores its weights.</summary>
    private static ModelSpec WithCompute(ModelSpec spec, LoadOptions options) =>
        spec with { Compute = options.DType ?? ComputeDTypes.DefaultFor(spec.WeightType) };

    private static LoadedModel Build(string path, string format, ModelSpec spec, ITensorSource source, ITokenizer tokenizer, LoadOptions options)
    {
        if (options.Activations == ActivationRounding.Ggml && spec.Compute != ComputeDType.F32)
            throw new HeadWiseException("--activations ggml reproduces llama.cpp's arithmetic on the file's exact weights: it needs --dtype f32");
        return new(path, format, new Transformer(spec, ModelWeights.Load(spec, source, options.Activations)), tokenizer);
    }

    private static LoadedModel LoadLlama2c(string path, LoadOptions options)
    {
        var tokenizerPath = options.Tokenizer ?? FindLlama2cTokenizer(path);
        var tokenizer = TokenizerFactory.FromLlama2cFile(tokenizerPath);
        using var source = new Llama2cTensorSource(Llama2cCheckpoint.Open(path));
        var spec = WithCompute(source.Spec(), options);
        if (tokenizer.VocabSize != spec.VocabSize)
            throw new InvalidModelFileException(tokenizerPath, $"tokenizer has {tokenizer.VocabSize} pieces but the model's vocabulary is {spec.VocabSize}");
        return Build(path, "llama2c", spec, source, tokenizer, options);
    }

    /// <summary>llama2.c keeps the vocabulary in a separate file: tokenizer.bin, or the one tok*.bin beside the model.</summary>
    private static string FindLlama2cTokenizer(string modelPath)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        var named = Path.Combine(dir, "tokenizer.bin");
        if (File.Exists(named)) return named;
        var candidates = Directory.GetFiles(dir, "tok*.bin");
        return candidates.Length == 1 ? candidates[0]
            : throw new HeadWiseException($"{modelPath}: llama2.c checkpoints need their tokenizer.bin; none found beside the model (pass --tokenizer PATH)");
    }

    private static LoadedModel LoadGguf(string path, LoadOptions options)
    {
        var file = GgufFile.Open(path);
        try
        {
            var spec = WithCompute(GgufModelSpec.Read(file), options);
            var tokenizer = options.Tokenizer is { } t ? LoadTokenizerFile(t) : TokenizerFactory.FromGgufMetadata(file.Metadata, path);
            if (tokenizer.VocabSize > spec.VocabSize)
                throw new InvalidModelFileException(path, $"the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {spec.VocabSize}");
            using var source = new GgufTensorSource(file, spec);
            return Build(path, "gguf", spec, source, tokenizer, options);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A Hugging Face folder: config.json, model.safetensors (or sharded), tokenizer.json.</summary>
    private static LoadedModel LoadHuggingFace(string dir, LoadOptions options)
    {
        using var checkpoint = HfCheckpoint.Open(dir);
        var tokenizerPath = options.Tokenizer ?? checkpoint.TokenizerJsonPath
            ?? throw new HeadWiseException($"{dir}: no tokenizer.json in the model folder (pass --tokenizer PATH)");
        var tokenizer = options.Tokenizer is null && checkpoint.Generation is { } g
            ? TokenizerJson.Read(tokenizerPath).WithSpecialIds(g.BosId, g.EosId).Build()
            : LoadTokenizerFile(tokenizerPath);
        var spec = WithCompute(checkpoint.Spec, options);
        // Embedding tables are often padded past the tokenizer (Qwen); a tokenizer larger than the table is an error.
        if (tokenizer.VocabSize > spec.VocabSize)
            throw new InvalidModelFileException(tokenizerPath, $"tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {spec.VocabSize}");
        return Build(dir, "safetensors", spec, checkpoint, tokenizer, options);
    }

    /// <summary>A BERT encoder exported to ONNX; its WordPiece vocabulary is the vocab.txt (or tokenizer.json) beside it.</summary>
    private static LoadedModel LoadOnnx(string path, LoadOptions options)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var tokenizerPath = options.Tokenizer ?? new[] { "tokenizer.json", "vocab.txt" }.Select(f => Path.Combine(dir, f)).FirstOrDefault(File.Exists)
            ?? throw new HeadWiseException($"{path}: no vocab.txt or tokenizer.json beside the model (pass --tokenizer PATH)");
        var tokenizer = LoadTokenizerFile(tokenizerPath);
        using var weights = OnnxBertWeights.Open(path);
        var spec = WithCompute(weights.Spec with { Name = Path.GetFileNameWithoutExtension(path) }, options);
        if (tokenizer.VocabSize > spec.VocabSize)
            throw new InvalidModelFileException(tokenizerPath, $"tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {spec.VocabSize}");
        return Build(path, "onnx", spec, weights, tokenizer, options);
    }

    /// <summary>
    /// tokenizer.json (any kind), vocab.txt (WordPiece, lower-cased as the uncased BERTs are), a SentencePiece
    /// tokenizer.model or a llama2.c tokenizer.bin.
    /// </summary>
    public static Tokenizers.ITokenizer LoadTokenizerFile(string path)
    {
        if (!File.Exists(path)) throw new HeadWiseException($"{path}: tokenizer file not found");
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return TokenizerJson.Load(path);
        if (path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)) return WordPieceTokenizer.FromVocabFile(path);
        if (path.EndsWith(".model", StringComparison.OrdinalIgnoreCase)) return SentencePieceModelFile.Load(path);
        return TokenizerFactory.FromLlama2cFile(path);
    }
}
