using System.CommandLine;

namespace HeadWise.Cli.Commands;

/// <summary>Options that several verbs share, spelled once.</summary>
internal static class CommonOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model checkpoint: a .gguf file, a llama2.c .bin, a Hugging Face folder or a BERT .onnx",
        Required = true,
    };

    public static Option<string?> Tokenizer() => new("--tokenizer")
    {
        Description = "Tokenizer file: tokenizer.json, a BERT vocab.txt or a llama2.c tokenizer.bin (default: the one beside or inside the model)",
    };

    public static Option<string?> Json() => new("--json") { Description = "Also write the result as JSON to this file" };
}
