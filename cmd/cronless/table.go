package main

import "github.com/cronless/cronless/cmd/cronless/internal/cmdutil"

// Tables and cells for people (cmdutil), by their names here.
type table = cmdutil.Table

var (
	newTable     = cmdutil.NewTable
	outputFormat = cmdutil.OutputFormat
	tableTime    = cmdutil.TableTime
	csvTime      = cmdutil.CSVTime
	clip         = cmdutil.Clip
	orDash       = cmdutil.OrDash
	orEmpty      = cmdutil.OrEmpty
	parseDays    = cmdutil.ParseDays
)
