// Placeholder entry point; the CLI, configuration loading and hosting replace it.
System.Console.WriteLine("emit-hub 0.1.0");
